/*
 * title: Kernel allocation sizes
 * group: memory
 * description: Linear distribution of kmem_alloc() sizes by caller (3D bars).
 * platform: illumos
 */
fbt::kmem_alloc:entry
{
	@bytes[caller] = lquantize(arg0, 0, 4096, 256);
}
