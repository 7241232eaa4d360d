"""Media shipped with omnidex for the demo and tests: the sample meeting video and its truth."""
