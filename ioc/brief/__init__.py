"""The daily brief for leaders: numbers (compute), sentences (sentences), PDF (pdf), build and schedule (service)."""
