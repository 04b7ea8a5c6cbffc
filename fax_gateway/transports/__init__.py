"""Fax transports: one interface, several ways a fax leaves and arrives."""
