using Abi.Interop;
using Abi.Runtime.Kernel;

namespace Abi.Runtime.Memory;

/// <summary>
/// Page-aligned memory for device DMA, from <c>mmap</c> through the backend (so the engine knows the
/// range and accepts it for mapping). Backed by 2 MiB huge pages when asked and the system has them
/// free, else by 4 KiB pages with <see cref="Note"/> saying why. Dispose unmaps it; unmap it from every
/// IOAS or container first, as with any user memory given to a device.
/// </summary>
public sealed unsafe class DmaBuffer : IDisposable
{
    private nint _address;

    private DmaBuffer(IKernel kernel, nint address, long length, bool hugePages, string? note)
    {
        Kernel = kernel;
        _address = address;
        Length = length;
        IsHugePage = hugePages;
        Note = note;
    }

    /// <summary>The backend that mapped it.</summary>
    public IKernel Kernel { get; }

    /// <summary>The user virtual address (what <c>user_va</c>/<c>vaddr</c> take).</summary>
    /// <exception cref="ObjectDisposedException">After <see cref="Dispose"/>.</exception>
    public nint Address => _address != 0 ? _address : throw new ObjectDisposedException(nameof(DmaBuffer));

    /// <summary>The length in bytes, a multiple of the page size.</summary>
    public long Length { get; }

    /// <summary>Whether 2 MiB huge pages back it.</summary>
    public bool IsHugePage { get; }

    /// <summary>Why huge pages were not used although asked for, or null.</summary>
    public string? Note { get; }

    /// <summary>The page size backing the buffer.</summary>
    public int PageSize => IsHugePage ? LinuxConstants.HugePageSize : LinuxConstants.PageSize;

    /// <summary>The whole buffer. Valid until <see cref="Dispose"/>.</summary>
    public Span<byte> Span => Length <= int.MaxValue
        ? new Span<byte>((void*)Address, (int)Length)
        : throw new InvalidOperationException("the buffer is larger than a span; use Slice");

    /// <summary>A part of the buffer.</summary>
    public Span<byte> Slice(long offset, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (offset > Length || length > Length - offset)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"[{offset}, +{length}) is outside the {Length}-byte buffer");
        }
        return new Span<byte>((byte*)Address + offset, length);
    }

    /// <summary>
    /// Maps <paramref name="length"/> bytes (rounded up to the page size) of zeroed, populated memory.
    /// With <paramref name="preferHugePages"/>, 2 MiB pages are used when enough are free.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is not positive.</exception>
    /// <exception cref="SyscallException">mmap failed.</exception>
    public static DmaBuffer Allocate(IKernel kernel, long length, bool preferHugePages = true)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        const int Anonymous = LinuxConstants.MAP_SHARED | LinuxConstants.MAP_ANONYMOUS | LinuxConstants.MAP_POPULATE;
        const int ReadWrite = LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE;
        string? note = null;
        if (preferHugePages)
        {
            long huge = RoundUp(length, LinuxConstants.HugePageSize);
            if (HugePages.Free2MiBPages() * LinuxConstants.HugePageSize >= huge)
            {
                nint address = kernel.Mmap(0, (nuint)huge, ReadWrite, Anonymous | LinuxConstants.MAP_HUGETLB | LinuxConstants.MAP_HUGE_2MB, -1, 0);
                if (address > 0)
                {
                    return new DmaBuffer(kernel, address, huge, hugePages: true, note: null);
                }

                note = $"2 MiB huge pages were free but mmap refused them ({(Errno)(-address)}); using 4 KiB pages";
            }
            else
            {
                note = "not enough free 2 MiB huge pages (see /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages); using 4 KiB pages";
            }
        }

        long rounded = RoundUp(length, LinuxConstants.PageSize);
        nint result = kernel.Mmap(0, (nuint)rounded, ReadWrite, Anonymous, -1, 0);
        if (result < 0)
        {
            throw new SyscallException("mmap", null, (Errno)(-result), $"{rounded} bytes of anonymous memory");
        }

        return new DmaBuffer(kernel, result, rounded, hugePages: false, note);
    }

    /// <summary>Unmaps the memory. Idempotent.</summary>
    public void Dispose()
    {
        nint address = Interlocked.Exchange(ref _address, 0);
        if (address != 0)
        {
            _ = Kernel.Munmap(address, (nuint)Length);
        }
    }

    private static long RoundUp(long value, long alignment) => checked((value + alignment - 1) / alignment * alignment);
}
