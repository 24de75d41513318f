/*
 * title: IP packet sizes
 * group: network
 * description: Distribution of IP payload sizes sent, by destination (histogram).
 */
ip:::send
{
	@bytes[args[2]->ip_daddr] = quantize(args[2]->ip_plength);
}
