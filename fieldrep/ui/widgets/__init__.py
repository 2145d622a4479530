"""Small reusable widgets any page can use."""
