using Abi.Engine.Devices;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Tests;

/// <summary>
/// Caller memory as the kernel touches it: every argument, nested or not, is copied with the
/// kernel's copy_from_user / copy_to_user / copy_struct_from_user rules, so a buggy pointer is an
/// errno (EFAULT, or E2BIG where the tail scan stops first), never a crash.
/// </summary>
public sealed unsafe class UserMemoryTests : EngineTest
{
    private const int ProtNone = 0, ProtRead = 1, ProtReadWrite = 3, Private = 0x02, Fixed = 0x10, Anonymous = 0x20;

    private int Fd => (int)Iommufd.Fd.DangerousGetHandle();

    public static TheoryData<ulong> BadPointers => new()
    {
        0x8000_0000_0000_0000UL,       // non-canonical
        0xFFFF_8000_0000_0000UL,       // the kernel half
        0x7FFF_FFFF_F000UL,            // the last user page: never mapped
        1UL,                           // the zero page
    };

    [Theory]
    [MemberData(nameof(BadPointers))]
    public void EveryIommufdIoctl_WithABadArgumentPointer_IsEfault(ulong pointer)
    {
        for (uint nr = 0x80; nr <= 0x94; nr++)
        {
            uint request = (0x3Bu << 8) | nr;
            Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(Fd, request, (nint)pointer));
        }
    }

    [Fact]
    public void AnArgumentInAProtNonePage_IsEfault()
    {
        using var pages = new Pages(2);
        pages.Protect(0, ProtNone);
        Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(Fd, Constants.IOMMU_IOAS_ALLOC, pages.At(0)));
    }

    [Fact]
    public void AStructRunningIntoAnUnmappedPageWithinItsSize_IsEfault()
    {
        using var pages = new Pages(2);
        pages.Protect(1, ProtNone);
        nint arg = pages.At(1) - 8;     // iommu_ioas_alloc is 12 bytes: the last 4 lie in the hole
        *(uint*)arg = 12;
        Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(Fd, Constants.IOMMU_IOAS_ALLOC, arg));
    }

    [Fact]
    public void ANonZeroTailBeforeAHole_IsE2big_AsCheckZeroedUserStopsThere()
    {
        // size claims 64 KiB; a non-zero word sits before the hole, so the scan never reaches it.
        using var pages = new Pages(2);
        pages.Protect(1, ProtNone);
        byte* arg = (byte*)pages.At(0);
        *(uint*)arg = 1 << 16;
        arg[100] = 1;
        Assert.Equal(-(int)Errno.E2BIG, Kernel.Ioctl(Fd, Constants.IOMMU_IOAS_ALLOC, (nint)arg));
        arg[100] = 0;
        Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(Fd, Constants.IOMMU_IOAS_ALLOC, (nint)arg));
    }

    [Fact]
    public void AReadOnlyArgument_OfAnIoctlThatAnswers_IsEfault_AndTheNewObjectIsGone()
    {
        using var pages = new Pages(1);
        *(uint*)pages.At(0) = 12;
        pages.Protect(0, ProtRead);
        Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(Fd, Constants.IOMMU_IOAS_ALLOC, pages.At(0)));

        // iommufd_object_abort_and_destroy: the id was given back, so the next IOAS gets 1.
        Assert.Equal(1u, NewIoas());
    }

    [Fact]
    public void AReadOnlyArgument_OfAnIoctlThatWritesNothing_Succeeds()
    {
        uint ioas = NewIoas();
        using var pages = new Pages(1);
        *(iommu_destroy*)pages.At(0) = new iommu_destroy { size = 8, id = ioas };
        pages.Protect(0, ProtRead);
        Assert.Equal(0, Kernel.Ioctl(Fd, Constants.IOMMU_DESTROY, pages.At(0)));
    }

    [Fact]
    public void IoasMap_WithAReadOnlyArgument_MapsButAnswersEfault_AsTheKernelDoes()
    {
        // ioas.c: iommufd_ioas_map responds after iopt_map_user_pages; the mapping stays.
        uint ioas = NewIoas();
        using var buffer = new Pages(1);
        using var pages = new Pages(1);
        iommu_ioas_map map = Map(ioas, (ulong)buffer.At(0), 4096, 0x10000);
        map.size = (uint)sizeof(iommu_ioas_map);
        *(iommu_ioas_map*)pages.At(0) = map;
        pages.Protect(0, ProtRead);
        Assert.True(-(int)Errno.EFAULT == Kernel.Ioctl(Fd, Constants.IOMMU_IOAS_MAP, pages.At(0)), Kernel.LastErrorReason);
        var unmap = new iommu_ioas_unmap { size = 24, ioas_id = ioas, iova = 0x10000, length = 4096 };
        Assert.Equal(0, Kernel.Ioctl(Fd, Constants.IOMMU_IOAS_UNMAP, (nint)(&unmap)));
        Assert.Equal(4096UL, unmap.length);
    }

    [Fact]
    public void Option_LooksTheIoasUpBeforeTheOp()
    {
        var option = new iommu_option { size = 24, option_id = (uint)iommufd_option.IOMMU_OPTION_HUGE_PAGES, op = 7, object_id = 99 };
        Assert.Equal(-(int)Errno.ENOENT, Kernel.Ioctl(Fd, Constants.IOMMU_OPTION, (nint)(&option)));
        option.object_id = NewIoas();
        Assert.Equal(-(int)Errno.EOPNOTSUPP, Kernel.Ioctl(Fd, Constants.IOMMU_OPTION, (nint)(&option)));
    }

    [Fact]
    public void UnusedNumbersInsideTheTable_ReadTheSizeFirst()
    {
        // IOMMU_TEST_CMD makes the table run to 0xA0; without it 0x95.. belong to the VFIO compat path.
        Abi.Engine.Selftest.IommufdSelftest.Enable(Kernel);
        Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(Fd, (0x3Bu << 8) | 0x95, 0));
        uint size = 8;
        Assert.Equal(-(int)Errno.ENOTTY, Kernel.Ioctl(Fd, (0x3Bu << 8) | 0x95, (nint)(&size)));
        Abi.Engine.Selftest.IommufdSelftest.Disable(Kernel);
        Assert.Equal(-(int)Errno.ENOTTY, Kernel.Ioctl(Fd, (0x3Bu << 8) | 0x95, 0));
    }

    [Fact]
    public void CompatContainerIoctls_WithBadPointers_AreEfault()
    {
        foreach (uint request in (ReadOnlySpan<uint>)[Constants.VFIO_IOMMU_GET_INFO, Constants.VFIO_IOMMU_MAP_DMA, Constants.VFIO_IOMMU_UNMAP_DMA])
        {
            Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(Fd, request, unchecked((nint)0x8000_0000_0000_0000UL)));
            Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(Fd, request, 16));
        }
    }

    [Fact]
    public void GroupAndDeviceIoctls_WithBadPointers_AreEfault()
    {
        var node = Kernel.AddDevice(new EduDevice());
        int group = Kernel.Open(System.Text.Encoding.ASCII.GetBytes(node.GroupPath + "\0"), 2, 0);
        Assert.True(group >= 0);
        try
        {
            foreach (uint request in (ReadOnlySpan<uint>)[Constants.VFIO_GROUP_GET_STATUS, Constants.VFIO_GROUP_SET_CONTAINER, Constants.VFIO_GROUP_GET_DEVICE_FD])
            {
                Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(group, request, 0));
                Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(group, request, unchecked((nint)0xFFFF_8000_0000_0000UL)));
            }

            // group.c: the name is looked up before the group's container is checked.
            byte* name = stackalloc byte[] { (byte)'x', 0 };
            Assert.Equal(-(int)Errno.ENODEV, Kernel.Ioctl(group, Constants.VFIO_GROUP_GET_DEVICE_FD, (nint)name));
        }
        finally
        {
            Kernel.Close(group);
        }
    }

    [Fact]
    public void AFaultResponseFromABadBuffer_IsEfault()
    {
        var alloc = new iommu_fault_alloc { size = 16 };
        Assert.Equal(0, Kernel.Ioctl(Fd, Constants.IOMMU_FAULT_QUEUE_ALLOC, (nint)(&alloc)));
        using var pages = new Pages(1);
        pages.Protect(0, ProtNone);
        Assert.Equal(-(int)Errno.EFAULT, Kernel.Write((int)alloc.out_fault_fd, new ReadOnlySpan<byte>((void*)pages.At(0), 32)));
        Kernel.Close((int)alloc.out_fault_fd);
    }

    /// <summary>Anonymous pages of this process whose protection a test changes; unmapped at the end.</summary>
    private sealed class Pages : IDisposable
    {
        private readonly nint _base;
        private readonly int _count;

        public Pages(int count)
        {
            _count = count;
            _base = LinuxKernel.Instance.Mmap(0, (nuint)(count * 4096), ProtReadWrite, Private | Anonymous, -1, 0);
            Assert.True(_base > 0);
            new Span<byte>((void*)_base, count * 4096).Clear();
        }

        public nint At(int page) => _base + (page * 4096);

        /// <summary>Replaces one page with a fresh one of <paramref name="protection"/> (MAP_FIXED keeps the range reserved).</summary>
        public void Protect(int page, int protection)
        {
            if (protection == ProtRead)
            {
                // Keep the bytes: remap read-only through a copy.
                byte[] keep = new Span<byte>((void*)At(page), 4096).ToArray();
                Assert.Equal(At(page), LinuxKernel.Instance.Mmap(At(page), 4096, ProtReadWrite, Private | Anonymous | Fixed, -1, 0));
                keep.CopyTo(new Span<byte>((void*)At(page), 4096));
                Assert.Equal(0, Mprotect(At(page), 4096, ProtRead));
                return;
            }

            Assert.Equal(At(page), LinuxKernel.Instance.Mmap(At(page), 4096, protection, Private | Anonymous | Fixed, -1, 0));
        }

        public void Dispose() => _ = LinuxKernel.Instance.Munmap(_base, (nuint)(_count * 4096));

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mprotect")]
        private static extern int Mprotect(nint address, nuint length, int protection);
    }
}
