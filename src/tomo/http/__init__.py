"""What every API route shares: who is asking (security), how errors read
(problem details), what is recorded (audit) and the headers of every answer."""
