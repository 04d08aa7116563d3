"""Workers: relay (event log → broker), notifier (broker → mail), scheduler (deadlines → commands)."""
