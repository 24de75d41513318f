/*
 * title: CPU profile: user stacks
 * group: cpu
 * description: Samples user stacks of running processes at 97 Hz; a flame graph of user time.
 * duration: 10
 */
profile-97
/arg1/
{
	@stacks[execname, ustack()] = count();
}
