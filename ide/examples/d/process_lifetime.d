/*
 * title: Process lifetimes
 * group: processes
 * description: Distribution of how long processes live, start to exit, in milliseconds.
 */
proc:::start
{
	self->born = timestamp;
}

proc:::exit
/self->born/
{
	@life_ms[execname] = quantize((timestamp - self->born) / 1000000);
	self->born = 0;
}
