/*
 * title: TCP bytes by remote host
 * group: network
 * description: Sums TCP payload bytes sent and received, by remote address.
 * platform: illumos
 */
tcp:::send
{
	@sent[args[2]->ip_daddr] = sum(args[2]->ip_plength);
}

tcp:::receive
{
	@received[args[2]->ip_saddr] = sum(args[2]->ip_plength);
}
