"""probtalk's own FLAME-format head rig: the built files and the code that builds them."""
