/*
 * title: Signals sent
 * group: processes
 * description: Counts signals sent, by signal number and sending process.
 */
proc:::signal-send
{
	@signals[args[2], execname] = count();
}
