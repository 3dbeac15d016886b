using Abi.Runtime.Kernel;

namespace Abi.Engine.Pci;

/// <summary>A memory BAR of an emulated device: every access is trapped into <see cref="Handler"/>.</summary>
/// <param name="Index">BAR number, 0-5 (a 64-bit BAR also occupies the next register).</param>
/// <param name="Size">Size in bytes: a power of two, at least 16.</param>
/// <param name="Handler">The device model's register file.</param>
/// <param name="Is64">Whether the BAR is a 64-bit memory BAR.</param>
/// <param name="IsIo">Whether it is an I/O-space BAR (read and written through the region, never mapped).</param>
/// <param name="Prefetchable">Whether the memory BAR is prefetchable (QEMU's modern virtio BAR is).</param>
public sealed record PciBar(int Index, ulong Size, IMmioHandler Handler, bool Is64, bool IsIo = false, bool Prefetchable = false);
