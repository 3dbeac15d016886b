using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Tests;

/// <summary>The generic checks every iommufd ioctl gets before its handler (drivers/iommu/iommufd/main.c: iommufd_fops_ioctl).</summary>
public sealed unsafe class DispatchTests : EngineTest
{
    private int Fd => (int)Iommufd.Fd.DangerousGetHandle();

    [Fact]
    public void TheVfsIoctls_AreAnsweredForTheDescriptor_BeforeTheDriver()
    {
        // fs/ioctl.c: do_vfs_ioctl answers FIONCLEX, FIOCLEX, FIONBIO and FIOASYNC for every file; the
        // engine answered them as unknown iommufd numbers (ENOTTY).
        Assert.Equal(0, Kernel.Ioctl(Fd, LinuxConstants.FIONCLEX, 0));
        Assert.Equal(0, Fcntl(Fd, 1 /* F_GETFD */, 0) & 1);
        Assert.Equal(0, Kernel.Ioctl(Fd, LinuxConstants.FIOCLEX, 0));
        Assert.Equal(1, Fcntl(Fd, 1, 0) & 1);

        int on = 1;
        Assert.Equal(0, Kernel.Ioctl(Fd, LinuxConstants.FIONBIO, (nint)(&on)));
        Assert.NotEqual(0, Fcntl(Fd, 3 /* F_GETFL */, 0) & LinuxConstants.O_NONBLOCK);
        Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(Fd, LinuxConstants.FIONBIO, 0));
        Assert.Equal(-(int)Errno.ENOTTY, Kernel.Ioctl(Fd, LinuxConstants.FIOASYNC, (nint)(&on)));   // iommufd has no fasync
        on = 0;
        Assert.Equal(0, Kernel.Ioctl(Fd, LinuxConstants.FIOASYNC, (nint)(&on)));
        Assert.Equal(0, Kernel.Ioctl(Fd, LinuxConstants.FIONBIO, (nint)(&on)));
    }

    [Fact]
    public void NullArgument_IsEfault()
    {
        Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(Fd, Constants.IOMMU_DESTROY, 0));
    }

    [Fact]
    public void ARequestWithDirectionBits_IsEnotty()
    {
        var destroy = new iommu_destroy { size = 8, id = 1 };
        uint iowr = 0xC0000000u | (8u << 16) | Constants.IOMMU_DESTROY;
        Assert.Equal(-(int)Errno.ENOTTY, Kernel.Ioctl(Fd, iowr, (nint)(&destroy)));
        Assert.Equal(-(int)Errno.ENOTTY, Kernel.Ioctl(Fd, 0x3B7F, (nint)(&destroy)));
    }

    [Fact]
    public void SizeBelowTheMinimum_IsEinval()
    {
        var alloc = new iommu_ioas_alloc { size = 8 };
        Assert.Equal(-(int)Errno.EINVAL, Kernel.Ioctl(Fd, Constants.IOMMU_IOAS_ALLOC, (nint)(&alloc)));
        Assert.Contains("below the minimum 12", Kernel.LastErrorReason, StringComparison.Ordinal);
    }

    [Fact]
    public void NonZeroBytesPastTheKernelsStruct_AreE2big_AndZeroOnesAreFine()
    {
        byte* buffer = stackalloc byte[32];
        new Span<byte>(buffer, 32).Clear();
        *(uint*)buffer = 32;                  // size: a future, larger iommu_ioas_alloc
        buffer[20] = 1;
        Assert.Equal(-(int)Errno.E2BIG, Kernel.Ioctl(Fd, Constants.IOMMU_IOAS_ALLOC, (nint)buffer));
        buffer[20] = 0;
        Assert.Equal(0, Kernel.Ioctl(Fd, Constants.IOMMU_IOAS_ALLOC, (nint)buffer));
        Assert.Equal(1u, *(uint*)(buffer + 8));
        Assert.Equal(0, buffer[12]);          // nothing written past the kernel's 12 bytes
    }

    [Fact]
    public void OutputIsTruncatedToTheCallersSize()
    {
        // A caller with the 6.12-sized vfio-less struct: only its bytes come back.
        byte* buffer = stackalloc byte[16];
        new Span<byte>(buffer, 16).Clear();
        *(uint*)buffer = 12;
        buffer[12] = 0x77;                    // beyond the caller's size: must stay untouched
        Assert.Equal(0, Kernel.Ioctl(Fd, Constants.IOMMU_IOAS_ALLOC, (nint)buffer));
        Assert.Equal(0x77, buffer[12]);
    }

    [Fact]
    public void AHugeSizeOverUnreadableMemory_IsEfault_NotACrash()
    {
        // The caller claims a 1 MiB struct but only 16 bytes exist: the tail scan stops at the fault.
        var real = Abi.Runtime.Kernel.LinuxKernel.Instance;
        nint pages = real.Mmap(0, 8192, 3, 0x22, -1, 0);
        Assert.True(pages > 0);
        // The page after the argument becomes inaccessible, but stays reserved: unmapping it would let a
        // parallel test's mapping land there and make the scan read someone else's bytes.
        Assert.Equal(pages + 4096, real.Mmap(pages + 4096, 4096, 0, 0x32, -1, 0));   // PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED
        try
        {
            byte* arg = (byte*)pages + 4096 - 16;
            new Span<byte>(arg, 16).Clear();
            *(uint*)arg = 1 << 20;
            Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(Fd, Constants.IOMMU_IOAS_ALLOC, (nint)arg));
        }
        finally
        {
            _ = real.Munmap(pages, 8192);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "fcntl")]
    private static extern int Fcntl(int fd, int command, int argument);
}
