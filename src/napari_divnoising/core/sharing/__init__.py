"""Sharing trained models the way the field does: bioimage.io model packages."""
