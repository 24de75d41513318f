/*
 * title: TCP state changes
 * group: network
 * description: Counts TCP state transitions by previous and new state name.
 * platform: illumos
 */
tcp:::state-change
{
	@transitions[tcp_state_string[args[5]->tcps_state],
	    tcp_state_string[args[3]->tcps_state]] = count();
}
