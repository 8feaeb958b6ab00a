"""Background loops, one thin module each: they call a service on a timer and log what happened."""
