"""cadenza's HTTP service and its web page (``cadenza serve``): the command line's work,
for many users at once, through the library's one pipeline (the service owns no music)."""
