"""Obtaining, verifying and preparing the UCR and MIT-BIH data."""
