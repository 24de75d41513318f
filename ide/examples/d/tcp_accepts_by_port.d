/*
 * title: TCP accepts by port
 * group: network
 * description: Counts inbound TCP connections accepted, by local port.
 * platform: illumos
 */
tcp:::accept-established
{
	@accepts[args[4]->tcp_dport] = count();
}
