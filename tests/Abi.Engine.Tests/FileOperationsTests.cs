using System.Runtime.InteropServices;
using System.Text;
using Abi.Engine.Devices;
using Abi.Engine.Vfio;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Tests;

/// <summary>
/// The file operations around the ioctls, as fs/read_write.c and each file's handlers answer them:
/// lseek (ksys_lseek, then the file's llseek or ESPIPE without one) and a write whose buffer faults
/// part way (each handler copies from the caller in its own way, and that decides what was done).
/// </summary>
public sealed unsafe class FileOperationsTests : IDisposable
{
    private const int ORdwr = 2;
    private readonly EmulatedKernel _kernel = new(ContainerBackend.Type1) { VtdAsQemu = true };
    private readonly EmulatedDeviceInfo _node;
    private readonly int _iommufd;
    private readonly nint _pages;

    public FileOperationsTests()
    {
        _node = _kernel.AddDevice(new EduDevice(msix: false, functionReset: false));
        _iommufd = Open("/dev/iommu", ORdwr);

        // Two pages, the second PROT_NONE: a buffer that ends n bytes before it has n readable bytes.
        _pages = LinuxKernel.Instance.Mmap(0, 8192, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS, -1, 0);
        Assert.True(_pages > 0);
        Assert.Equal(0, Mprotect(_pages + 4096, 4096, LinuxConstants.PROT_NONE));
    }

    public void Dispose()
    {
        _kernel.Close(_iommufd);
        _ = LinuxKernel.Instance.Munmap(_pages, 8192);
    }

    [Fact]
    public void Lseek_OfIommufdAndVfioFiles_IsEspipe_AfterAWhencePastSeekMaxIsEinval()
    {
        // None of iommufd_fops, vfio_fops, vfio_group_fops or vfio_device_fops has an llseek, so the
        // files lack FMODE_LSEEK (vfs_llseek: ESPIPE); ksys_lseek checks whence before that.
        int container = Open("/dev/vfio/vfio", ORdwr);
        int group = Open(_node.GroupPath, ORdwr);
        int cdev = Open(_node.CdevPath!, ORdwr);
        foreach (int fd in new[] { _iommufd, container, group, cdev })
        {
            Assert.Equal(-(long)Errno.EINVAL, _kernel.Lseek(fd, 0, LinuxConstants.SEEK_MAX + 1));
            Assert.Equal(-(long)Errno.ESPIPE, _kernel.Lseek(fd, 0, LinuxConstants.SEEK_SET));
            Assert.Equal(-(long)Errno.ESPIPE, _kernel.Lseek(fd, 0, LinuxConstants.SEEK_CUR));
        }

        _kernel.Close(group);
        _kernel.Close(container);
        Assert.Equal(0, BindCdev(cdev));
        Assert.Equal(-(long)Errno.ESPIPE, _kernel.Lseek(cdev, 0x1000, LinuxConstants.SEEK_SET));
        _kernel.Close(cdev);

        // A character device's open leaves FMODE_PREAD/PWRITE, so a pread of a group or container is
        // EINVAL (no read method), not ESPIPE as for an anonymous inode without them.
        container = Open("/dev/vfio/vfio", ORdwr);
        group = Open(_node.GroupPath, ORdwr);
        foreach (int fd in new[] { container, group })
        {
            Assert.Equal(-(long)Errno.EINVAL, _kernel.Pread(fd, new byte[4], 0));
            Assert.Equal(-(long)Errno.EINVAL, _kernel.Pwrite(fd, new byte[4], 0));
            _kernel.Close(fd);
        }
    }

    [Fact]
    public void Lseek_OfASysfsAttribute_IsGenericOverAPage_AndReadsFollowIt()
    {
        // kernfs_fop_llseek: generic_file_llseek over an inode of PAGE_SIZE (sysfs_add_file_mode_ns).
        int fd = Open($"/sys/bus/pci/devices/{_node.PciName}/driver_override", LinuxConstants.O_RDONLY);
        Assert.True(fd >= 0);
        Assert.Equal(4096, _kernel.Lseek(fd, 0, LinuxConstants.SEEK_END));
        Assert.Equal(2, _kernel.Lseek(fd, 2, LinuxConstants.SEEK_SET));
        byte[] text = new byte[16];
        long n = _kernel.Read(fd, text);
        Assert.Equal("ull)\n", Encoding.ASCII.GetString(text, 0, (int)n));
        Assert.Equal(7, _kernel.Lseek(fd, 0, LinuxConstants.SEEK_CUR));
        Assert.Equal(5, _kernel.Lseek(fd, -2, LinuxConstants.SEEK_CUR));
        Assert.Equal(-(long)Errno.EINVAL, _kernel.Lseek(fd, -6, LinuxConstants.SEEK_CUR));
        Assert.Equal(5, _kernel.Lseek(fd, 0, LinuxConstants.SEEK_CUR));              // a refused seek leaves it
        Assert.Equal(10, _kernel.Lseek(fd, 10, LinuxConstants.SEEK_DATA));
        Assert.Equal(4096, _kernel.Lseek(fd, 10, LinuxConstants.SEEK_HOLE));
        Assert.Equal(-(long)Errno.ENXIO, _kernel.Lseek(fd, 4096, LinuxConstants.SEEK_DATA));
        Assert.Equal(-(long)Errno.ENXIO, _kernel.Lseek(fd, -1, LinuxConstants.SEEK_HOLE));  // compared unsigned
        Assert.Equal(0, _kernel.Read(fd, text));                                         // past the text
        _kernel.Close(fd);
    }

    [Fact]
    public void Lseek_OfASysfsDirectory_RewindsItsEntries()
    {
        int fd = Open($"/sys/bus/pci/devices/{_node.PciName}", LinuxConstants.O_RDONLY | LinuxConstants.O_DIRECTORY);
        Assert.True(fd >= 0);
        byte[] first = new byte[4096], again = new byte[4096];
        long n = _kernel.GetDents64(fd, first);
        Assert.True(n > 0);
        Assert.Equal(0, _kernel.GetDents64(fd, again));                                  // the end
        Assert.Equal(0, _kernel.Lseek(fd, 0, LinuxConstants.SEEK_SET));
        Assert.Equal(n, _kernel.GetDents64(fd, again));
        Assert.Equal(first.AsSpan(0, (int)n).ToArray(), again.AsSpan(0, (int)n).ToArray());

        // A record's d_off resumes after it: the second record onwards again.
        long secondOffset = BitConverter.ToInt64(first, 8);
        int firstLength = BitConverter.ToUInt16(first, 16);
        Assert.Equal(secondOffset, _kernel.Lseek(fd, secondOffset, LinuxConstants.SEEK_SET));
        Assert.Equal(n - firstLength, _kernel.GetDents64(fd, again));
        _kernel.Close(fd);
    }

    [Fact]
    public void Write_ToABar_ThatFaultsPartWay_IsEfault_AfterThePiecesBefore()
    {
        // vfio_pci_core_do_io_rw copies each naturally aligned piece as it writes it and returns the
        // error, not what it did: 8 bytes at BAR0 0x04 are pieces 0x04 (liveness) and 0x08
        // (factorial); with 4 readable bytes the first reaches the device and the second faults.
        int cdev = Open(_node.CdevPath!, ORdwr);
        Assert.Equal(0, BindCdev(cdev));
        uint factorial = ReadBar32(cdev, 0x08);
        nint buffer = _pages + 4096 - 4;
        *(uint*)buffer = 0x1234_5678;
        long rc = _kernel.Pwrite(cdev, new ReadOnlySpan<byte>((void*)buffer, 8), 0x04);
        Assert.Equal(-(long)Errno.EFAULT, rc);
        Assert.Equal(~0x1234_5678u, ReadBar32(cdev, 0x04));
        Assert.Equal(factorial, ReadBar32(cdev, 0x08));                                   // never written

        // write() at the file's position: a failed write leaves it.
        Assert.Equal(-(long)Errno.EFAULT, _kernel.Write(cdev, new ReadOnlySpan<byte>((void*)buffer, 8)));
        uint word;
        Assert.Equal(4, _kernel.Read(cdev, new Span<byte>(&word, 4)));                   // BAR0 0x00, the identification
        Assert.Equal(0x010000EDu, word);
        _kernel.Close(cdev);
    }

    [Fact]
    public void Write_ToConfigSpace_ThatFaultsInAPiece_IsEfault_AndTheWholePieceIsLeft()
    {
        // vfio_pci_config_rw_single copies a whole aligned piece (here the 2 bytes at 0x0c) before it
        // writes any of it: with 1 readable byte the cache line size stays as it was.
        int cdev = Open(_node.CdevPath!, ORdwr);
        Assert.Equal(0, BindCdev(cdev));
        long config = (long)Constants.VFIO_PCI_CONFIG_REGION_INDEX << 40;
        byte before = ReadConfig8(cdev, config + 0x0c);
        nint buffer = _pages + 4096 - 1;
        *(byte*)buffer = (byte)(before ^ 0x10);
        Assert.Equal(-(long)Errno.EFAULT, _kernel.Pwrite(cdev, new ReadOnlySpan<byte>((void*)buffer, 2), config + 0x0c));
        Assert.Equal(before, ReadConfig8(cdev, config + 0x0c));

        // The same byte alone is a 1-byte piece, readable: it is written.
        Assert.Equal(1, _kernel.Pwrite(cdev, new ReadOnlySpan<byte>((void*)buffer, 1), config + 0x0c));
        Assert.Equal((byte)(before ^ 0x10), ReadConfig8(cdev, config + 0x0c));
        _kernel.Close(cdev);
    }

    [Fact]
    public void Write_ToASysfsAttribute_TakesAtMostAPage_CopiedAtOnce_AsACString()
    {
        // kernfs_fop_write_iter: min(count, PAGE_SIZE) bytes copied in one go (EFAULT before the store if
        // any cannot be read), then NUL-terminated for the store, which answers the page-cut length.
        const string Sriov = "/sys/module/vfio_pci/parameters/enable_sriov";
        int sriov = Open(Sriov, LinuxConstants.O_WRONLY);
        byte[] text = new byte[5000];
        Encoding.ASCII.GetBytes("Y\n\0ignored").CopyTo(text, 0);
        Assert.Equal(4096, _kernel.Write(sriov, text));                                    // param_attr_store answers the length
        Assert.Equal("Y", SysfsFiles.Read(_kernel, Sriov));
        _kernel.Close(sriov);

        // __device_set_driver_override refuses a count of PAGE_SIZE - 1 or more (its show must fit),
        // then ends the string at its NUL and its first newline.
        string path = $"/sys/bus/pci/devices/{_node.PciName}/driver_override";
        int fd = Open(path, LinuxConstants.O_WRONLY);
        Encoding.ASCII.GetBytes("vfio-pci\nrest\0ignored").CopyTo(text, 0);
        Assert.Equal(-(long)Errno.EINVAL, _kernel.Write(fd, text));
        Assert.Equal(4094, _kernel.Write(fd, text.AsSpan(0, 4094)));
        Assert.Equal("vfio-pci", SysfsFiles.Read(_kernel, path));

        nint buffer = _pages + 4096 - 4;
        Encoding.ASCII.GetBytes("none").CopyTo(new Span<byte>((void*)buffer, 4));
        Assert.Equal(-(long)Errno.EFAULT, _kernel.Write(fd, new ReadOnlySpan<byte>((void*)buffer, 6)));
        Assert.Equal("vfio-pci", SysfsFiles.Read(_kernel, path));
        Assert.Equal(0, _kernel.Write(fd, ReadOnlySpan<byte>.Empty));                      // sysfs_kf_write: nothing is 0
        _kernel.Close(fd);
    }

    [Fact]
    public void Read_OfASysfsAttribute_FromTheStartOrElsewhere_RunsTheShowAgain()
    {
        // seq_read_iter: a read at offset 0, or at any offset but where the last read ended, runs the
        // show again; one that goes on from there reads on in the text it had.
        string path = $"/sys/bus/pci/devices/{_node.PciName}/driver_override";
        int fd = Open(path, ORdwr);
        byte[] buffer = new byte[3];
        Assert.Equal(3, _kernel.Read(fd, buffer));                                          // "(nu"
        Assert.Equal(0, SysfsFiles.Write(_kernel, path, "vfio-pci\n"));
        Assert.Equal(3, _kernel.Read(fd, buffer));                                          // goes on: "ll)"
        Assert.Equal("ll)", Encoding.ASCII.GetString(buffer));
        Assert.Equal(0, _kernel.Lseek(fd, 0, LinuxConstants.SEEK_SET));
        Assert.Equal(3, _kernel.Read(fd, buffer));
        Assert.Equal("vfi", Encoding.ASCII.GetString(buffer));
        Assert.Equal(3, _kernel.Pread(fd, buffer, 5));                                      // elsewhere: shown again
        Assert.Equal("pci", Encoding.ASCII.GetString(buffer));
        _kernel.Close(fd);
    }

    [Theory]
    [InlineData("7\n", 7)]
    [InlineData("+7", 7)]
    [InlineData("0x1f", 31)]
    [InlineData("017\n", 15)]
    [InlineData("0", 0)]
    [InlineData("7 ", -(int)Errno.EINVAL)]
    [InlineData("7\n\n", -(int)Errno.EINVAL)]
    [InlineData("0x", -(int)Errno.EINVAL)]
    [InlineData("08", -(int)Errno.EINVAL)]
    [InlineData("-1", -(int)Errno.EINVAL)]
    [InlineData("4294967296", -(int)Errno.ERANGE)]
    [InlineData("99999999999999999999999", -(int)Errno.ERANGE)]
    public void FailNth_ParsesAsKstrtouintWithBaseZero(string text, int expected)
    {
        // proc_fail_nth_write: kstrtouint_from_user(buf, count, 0, &n), then the whole count.
        var kernel = new EmulatedKernel { ServeFailNth = true };
        int fd = kernel.Open("/proc/self/task/1/fail-nth\0"u8, ORdwr, 0);
        Assert.True(fd >= 0);
        long rc = kernel.Write(fd, Encoding.ASCII.GetBytes(text));
        Assert.Equal(expected < 0 ? expected : text.Length, rc);
        if (expected >= 0)
        {
            Assert.Equal(expected, kernel.Faults.FailNth);
        }

        kernel.Close(fd);
    }

    [Fact]
    public void FailNth_CopiesOnlyWhatANumberTakes()
    {
        // kstrtouint_from_user copies at most 34 bytes: a longer write whose tail cannot be read is
        // taken whole, when the 34 can.
        var kernel = new EmulatedKernel { ServeFailNth = true };
        int fd = kernel.Open("/proc/self/task/1/fail-nth\0"u8, ORdwr, 0);
        nint buffer = _pages + 4096 - 34;
        new Span<byte>((void*)buffer, 34).Clear();
        "12\n"u8.CopyTo(new Span<byte>((void*)buffer, 3));
        Assert.Equal(100, kernel.Write(fd, new ReadOnlySpan<byte>((void*)buffer, 100)));
        Assert.Equal(12, kernel.Faults.FailNth);
        Assert.Equal(-(long)Errno.EFAULT, kernel.Write(fd, new ReadOnlySpan<byte>((void*)(buffer + 1), 100)));
        kernel.Close(fd);
    }

    [Fact]
    public void Dup_NamesTheSameFile_WhichStaysOpenUntilItsLastNumberCloses()
    {
        // fs/file.c: dup takes a reference on the file; the release runs at the last fput.
        int files = _kernel.OpenFiles;
        int cdev = Open(_node.CdevPath!, ORdwr);
        int copy = _kernel.Dup(cdev);
        Assert.True(copy >= 0 && copy != cdev);
        Assert.Equal(files + 2, _kernel.OpenFiles);
        Assert.Equal(0, _kernel.Close(cdev));
        Assert.Equal(0, BindCdev(copy));                                                   // the same file, still open
        Assert.Equal(-(int)Errno.EBUSY, Open(_node.GroupPath, ORdwr));                    // its device still bound through the cdev
        Assert.Equal(0, _kernel.Close(copy));
        Assert.Equal(files, _kernel.OpenFiles);
        int group = Open(_node.GroupPath, ORdwr);                                         // released: the group opens
        Assert.True(group >= 0);
        _kernel.Close(group);
    }

    [Fact]
    public void Dup2_OfARealFdOverAnEngineFd_ReleasesTheEngineFile()
    {
        // do_dup2: the file the target held is put; here it was the cdev's last reference.
        int cdev = Open(_node.CdevPath!, ORdwr);
        Assert.Equal(0, BindCdev(cdev));
        int real = LinuxKernel.Instance.Open("/dev/zero\0"u8, LinuxConstants.O_RDONLY | LinuxConstants.O_CLOEXEC, 0);
        Assert.Equal(cdev, Dup2(real, cdev));
        _kernel.Duplicated(real, cdev);                                                    // what the interposer tells the engine
        Assert.Null(_kernel.FileOf(cdev));
        int group = Open(_node.GroupPath, ORdwr);
        Assert.True(group >= 0, $"the group answered {group}: the cdev was not released");
        _kernel.Close(group);
        Assert.Equal(0, LinuxKernel.Instance.Close(cdev));
        Assert.Equal(0, LinuxKernel.Instance.Close(real));
    }

    [Theory]
    [InlineData(LinuxConstants.O_RDWR)]
    [InlineData(LinuxConstants.O_RDONLY | LinuxConstants.O_CLOEXEC)]
    [InlineData(LinuxConstants.O_WRONLY | LinuxConstants.O_NONBLOCK)]
    public void Fcntl_OfAnEngineFd_AnswersTheOpensModeAndFlags(int flags)
    {
        // The reserved number carries f_flags (access mode, O_NONBLOCK; O_LARGEFILE, which open forces
        // on 64-bit) and FD_CLOEXEC only when asked, as the kernel's file and fd would.
        int fd = Open("/dev/iommu", flags);
        Assert.True(fd >= 0);
        const int OLargefile = 0x8000, FGetFd = 1, FGetFl = 3, FdCloexec = 1;
        Assert.Equal(flags & ~LinuxConstants.O_CLOEXEC | OLargefile, Fcntl(fd, FGetFl, 0));
        Assert.Equal((flags & LinuxConstants.O_CLOEXEC) != 0 ? FdCloexec : 0, Fcntl(fd, FGetFd, 0));
        _kernel.Close(fd);
    }

    [Fact]
    public void Mmap_Executable_OfAnAnonymousInodeFile_IsEperm_AfterTheAccessModeChecks()
    {
        // do_mmap: FMODE_READ first (EACCES), then path_noexec (the anonymous inode filesystem is
        // SB_I_NOEXEC) before the file's own mmap; the group's device fd is an anonymous inode.
        (int group, int container, int device) = DeviceThroughGroup();
        const int ReadExec = LinuxConstants.PROT_READ | LinuxConstants.PROT_EXEC;
        Assert.Equal(-(nint)Errno.EPERM, _kernel.Mmap(0, 4096, ReadExec, LinuxConstants.MAP_SHARED, device, 0));
        Assert.Equal(-(nint)Errno.EINVAL, _kernel.Mmap(0, 4096, ReadExec, LinuxConstants.MAP_SHARED, device, 1));   // the offset, before
        Assert.Equal(-(nint)Errno.ENODEV, _kernel.Mmap(0, 4096, LinuxConstants.PROT_READ, LinuxConstants.MAP_SHARED, device, 0));   // not executable: the BAR's own answer (untrapped registers)
        int attribute = Open($"/sys/bus/pci/devices/{_node.PciName}/vendor", LinuxConstants.O_RDONLY);     // sysfs is noexec too
        Assert.Equal(-(nint)Errno.EPERM, _kernel.Mmap(0, 4096, ReadExec, LinuxConstants.MAP_PRIVATE, attribute, 0));
        Assert.Equal(-(nint)Errno.ENODEV, _kernel.Mmap(0, 4096, LinuxConstants.PROT_READ, LinuxConstants.MAP_PRIVATE, attribute, 0));
        _kernel.Close(attribute);

        foreach (int fd in new[] { device, group, container })
        {
            _kernel.Close(fd);
        }
    }

    [Fact]
    public void Fstat_OfEngineFds_ShowsTheKernelsInodes()
    {
        // A cdev is a character device whose number sysfs's vfio-dev/vfioN/dev gives (QEMU compares the
        // two before it uses the fd); a sysfs attribute a page-long regular file; a group's device fd an
        // anonymous inode (0600, no type: anon_inode_getattr masks it off); /dev/vfio/vfio VFIO_MINOR.
        const uint TypeMask = 0xF000, CharDevice = 0x2000, Regular = 0x8000;
        int cdev = Open(_node.CdevPath!, ORdwr);
        (uint mode, ulong rdev, long size) = Stat(cdev);
        Assert.Equal(CharDevice | 0x180, mode);
        string dev = SysfsFiles.Read(_kernel, $"/sys/bus/pci/devices/{_node.PciName}/vfio-dev/{Path.GetFileName(_node.CdevPath)}/dev");
        Assert.Equal(dev, $"{Major(rdev)}:{Minor(rdev)}");
        Assert.Equal(0, size);
        _kernel.Close(cdev);

        int attribute = Open($"/sys/bus/pci/devices/{_node.PciName}/vendor", LinuxConstants.O_RDONLY);
        Assert.Equal((Regular | 0x124, 0UL, 4096L), Stat(attribute));
        _kernel.Close(attribute);

        int container = Open("/dev/vfio/vfio", ORdwr);
        (mode, rdev, _) = Stat(container);
        Assert.Equal((CharDevice | 0x1B6, 10u, 196u), (mode, Major(rdev), Minor(rdev)));
        _kernel.Close(container);
        (int group, container, int device) = DeviceThroughGroup();
        Assert.Equal(CharDevice, Stat(group).Mode & TypeMask);
        Assert.Equal((0x180u, 0UL, 0L), Stat(device));
        Assert.False(_kernel.Fstat(0, new byte[144]));                                      // not the engine's
        foreach (int fd in new[] { device, group, container })
        {
            _kernel.Close(fd);
        }
    }

    [Fact]
    public void StatPath_OfEngineNodes_ShowsWhatFstatOfThemOpenedWould()
    {
        // stat of a /dev node or a sysfs path answers without opening it (a group's open is exclusive).
        Assert.Equal(Stat(Open(_node.CdevPath!, ORdwr), close: true), StatPath(_node.CdevPath!, follow: true));
        int group = Open(_node.GroupPath, ORdwr);
        Assert.Equal(Stat(group), StatPath(_node.GroupPath, follow: true));                // while it is open, too
        _kernel.Close(group);
        Assert.Equal(Stat(Open("/dev/vfio/vfio", ORdwr), close: true), StatPath("/dev/vfio/vfio", follow: true));
        Assert.Equal(0x41EDu, StatPath("/dev/vfio", follow: true).Mode);                   // a directory
        string attribute = $"/sys/bus/pci/devices/{_node.PciName}/vendor";
        Assert.Equal(Stat(Open(attribute, LinuxConstants.O_RDONLY), close: true), StatPath(attribute, follow: true));

        // A sysfs link: itself for lstat, its target for stat.
        string driver = $"/sys/bus/pci/devices/{_node.PciName}/driver";
        (uint mode, _, long size) = StatPath(driver, follow: false);
        Assert.Equal(0xA1FFu, mode);
        Assert.Equal(SysfsFiles.ReadLink(_kernel, driver).Length, size);
        Assert.Equal(0x41EDu, StatPath(driver, follow: true).Mode);

        byte[] stat = new byte[144];
        Assert.Equal(-(int)Errno.ENOENT, _kernel.StatPath("/dev/vfio/devices/vfio99\0"u8, true, stat));
        Assert.Equal(-(int)Errno.ENOENT, _kernel.StatPath("/dev/vfio/99\0"u8, true, stat));
        Assert.Equal(1, _kernel.StatPath("/etc/hostname\0"u8, true, stat));                // not the engine's
    }

    /// <summary>The device opened the legacy way: its group in a type1v2 container, then GET_DEVICE_FD (an anonymous inode).</summary>
    private (int Group, int Container, int Device) DeviceThroughGroup()
    {
        int group = Open(_node.GroupPath, ORdwr);
        int container = Open("/dev/vfio/vfio", ORdwr);
        Assert.Equal(0, _kernel.Ioctl(group, (uint)Constants.VFIO_GROUP_SET_CONTAINER, (nint)(&container)));
        Assert.Equal(0, _kernel.Ioctl(container, (uint)Constants.VFIO_SET_IOMMU, (nint)Constants.VFIO_TYPE1v2_IOMMU));
        byte[] name = Encoding.ASCII.GetBytes(_node.PciName + "\0");
        int device;
        fixed (byte* p = name)
        {
            device = _kernel.Ioctl(group, (uint)Constants.VFIO_GROUP_GET_DEVICE_FD, (nint)p);
        }

        Assert.True(device >= 0, $"GET_DEVICE_FD answered {device}");
        return (group, container, device);
    }

    private (uint Mode, ulong RDev, long Size) StatPath(string path, bool follow)
    {
        byte[] stat = new byte[144];
        Assert.Equal(0, _kernel.StatPath(Encoding.UTF8.GetBytes(path + "\0"), follow, stat));
        return (BitConverter.ToUInt32(stat, 24), BitConverter.ToUInt64(stat, 40), BitConverter.ToInt64(stat, 48));
    }

    private (uint Mode, ulong RDev, long Size) Stat(int fd, bool close)
    {
        (uint Mode, ulong RDev, long Size) result = Stat(fd);
        if (close)
        {
            _kernel.Close(fd);
        }

        return result;
    }

    private (uint Mode, ulong RDev, long Size) Stat(int fd)
    {
        byte[] stat = new byte[144];
        fixed (byte* p = stat)
        {
            Assert.Equal(0, Fstat(fd, p));                                                  // the reserved /dev/null's
        }

        Assert.True(_kernel.Fstat(fd, stat));
        return (BitConverter.ToUInt32(stat, 24), BitConverter.ToUInt64(stat, 40), BitConverter.ToInt64(stat, 48));
    }

    private static uint Major(ulong rdev) => (uint)(((rdev >> 32) & 0xFFFFF000) | ((rdev >> 8) & 0xFFF));

    private static uint Minor(ulong rdev) => (uint)(((rdev >> 12) & 0xFFFFFF00) | (rdev & 0xFF));

    private uint ReadBar32(int cdev, long offset)
    {
        uint value;
        Assert.Equal(4, _kernel.Pread(cdev, new Span<byte>(&value, 4), offset));
        return value;
    }

    private byte ReadConfig8(int cdev, long offset)
    {
        byte value;
        Assert.Equal(1, _kernel.Pread(cdev, new Span<byte>(&value, 1), offset));
        return value;
    }

    private int Open(string path, int flags) => _kernel.Open(Encoding.ASCII.GetBytes(path + "\0"), flags, 0);

    private int BindCdev(int cdev)
    {
        var bind = new vfio_device_bind_iommufd { argsz = (uint)sizeof(vfio_device_bind_iommufd), iommufd = _iommufd };
        return _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_BIND_IOMMUFD, (nint)(&bind));
    }

    [DllImport("libc", EntryPoint = "fstat")]
    private static extern int Fstat(int fd, byte* stat);

    [DllImport("libc", EntryPoint = "dup2")]
    private static extern int Dup2(int fd, int target);

    [DllImport("libc", EntryPoint = "fcntl")]
    private static extern int Fcntl(int fd, int command, int argument);

    [DllImport("libc", EntryPoint = "mprotect")]
    private static extern int Mprotect(nint address, nuint length, int protection);
}
