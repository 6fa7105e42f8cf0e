"""Generated from proto/ by `make proto` (proto/generate.py); do not edit."""
