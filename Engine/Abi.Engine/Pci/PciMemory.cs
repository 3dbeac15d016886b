using System.Runtime.InteropServices;
using Abi.Engine.Native;
using Abi.Runtime;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Pci;

/// <summary>
/// A BAR that is plain memory (a frame buffer, a controller memory buffer): backed by a memfd, so
/// a driver's <c>mmap</c> of the region gets the device's own pages, and pread/pwrite and the
/// device model see the same bytes. Such a mapping is what peer-to-peer DMA maps: type1 accepts
/// it, iommufd refuses to pin it (EFAULT), as the kernel does with VM_PFNMAP memory.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The memory lives as long as the device model, which has no end of life.")]
public sealed unsafe class PciMemory : IMmioHandler
{
    private readonly byte* _view;

    /// <summary>Creates <paramref name="size"/> bytes of zeroed device memory.</summary>
    public PciMemory(ulong size)
    {
        Size = size;
        FileDescriptor = Libc.MoveOwn(Libc.MemfdCreate("abi-bar", 1 /* MFD_CLOEXEC */));
        if (FileDescriptor < 0 || Libc.Ftruncate(FileDescriptor, (long)size) != 0)
        {
            throw new SyscallException("memfd_create", "abi-bar", (Abi.Interop.Errno)Marshal.GetLastSystemError(), $"{size} bytes of BAR memory");
        }

        nint view = LinuxKernel.Instance.Mmap(0, (nuint)size, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_SHARED, FileDescriptor, 0);
        if (view < 0)
        {
            throw new SyscallException("mmap", "abi-bar", (Abi.Interop.Errno)(-view), "the device's view of its BAR");
        }

        _view = (byte*)view;
    }

    /// <summary>Bytes of memory.</summary>
    public ulong Size { get; }

    /// <summary>The device's own view of the memory.</summary>
    public Span<byte> Span => new(_view, (int)Size);

    internal int FileDescriptor { get; }

    /// <summary>The device's view, where DMA from a peer lands (a dma-buf of the BAR mapped by iommufd).</summary>
    internal byte* View => _view;

    /// <inheritdoc/>
    public ulong Read(long offset, int size)
    {
        ulong value = 0;
        new ReadOnlySpan<byte>(_view + offset, size).CopyTo(new Span<byte>(&value, size));
        return value;
    }

    /// <inheritdoc/>
    public void Write(long offset, int size, ulong value) => new ReadOnlySpan<byte>(&value, size).CopyTo(new Span<byte>(_view + offset, size));
}
