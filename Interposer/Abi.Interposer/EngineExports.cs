using System.Runtime.InteropServices;
using System.Text;
using Abi.Engine;
using Abi.Runtime.Kernel;

namespace Abi.Interposer;

/// <summary>
/// The C entry points the abi-preload shim calls for engine paths and engine fds. Each returns the
/// result or <c>-errno</c>, as the kernel's syscalls do; the shim sets errno. Nothing here may throw
/// into C: a managed exception becomes EIO with its message on stderr.
/// </summary>
internal static unsafe partial class EngineExports
{
    private static EmulatedKernel? s_kernel;
    private static byte* s_fds;
    private static int s_fdCount;

    private static EmulatedKernel Kernel => s_kernel!;

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_init")]
    private static int Init(byte* fds, int count, long* mappingCounter, int* pid)
    {
        try
        {
            s_fds = fds;
            s_fdCount = count;
            EmulatedKernel kernel = EngineConfiguration.Create();
            kernel.DescriptorsChanged = MarkDescriptor;
            kernel.DiscoverUserMemory(mappingCounter);
            EmulatedKernel.FollowProcessId(pid);
            s_kernel = kernel;
            return 0;
        }
        catch (Exception e)
        {
            return Crashed("init", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_open")]
    private static int Open(byte* path, int flags, int mode)
    {
        try
        {
            int length = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(path).Length;
            return Traced(Kernel.Open(new ReadOnlySpan<byte>(path, length + 1), flags, mode), "open", path);
        }
        catch (Exception e)
        {
            return Crashed("open", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_close")]
    private static int Close(int fd)
    {
        try
        {
            return Kernel.Close(fd);
        }
        catch (Exception e)
        {
            return Crashed("close", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_ioctl")]
    private static int Ioctl(int fd, nuint request, nint argument)
    {
        try
        {
            int rc = Kernel.Ioctl(fd, (uint)request, argument);
            if (rc < 0 && EngineConfiguration.Trace)
            {
                Report($"ioctl(fd {fd}, 0x{(uint)request:x}) = -{(Abi.Interop.Errno)(-rc)}: {Kernel.LastErrorReason}");
            }

            return rc;
        }
        catch (Exception e)
        {
            return Crashed("ioctl", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_read")]
    private static nint Read(int fd, byte* buffer, nuint count)
    {
        try
        {
            return (nint)Kernel.Read(fd, new Span<byte>(buffer, Clamp(count)));
        }
        catch (Exception e)
        {
            return Crashed("read", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_write")]
    private static nint Write(int fd, byte* buffer, nuint count)
    {
        try
        {
            return (nint)Kernel.Write(fd, new ReadOnlySpan<byte>(buffer, Clamp(count)));
        }
        catch (Exception e)
        {
            return Crashed("write", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_pread")]
    private static nint Pread(int fd, byte* buffer, nuint count, long offset)
    {
        try
        {
            return (nint)Kernel.Pread(fd, new Span<byte>(buffer, Clamp(count)), offset);
        }
        catch (Exception e)
        {
            return Crashed("pread", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_pwrite")]
    private static nint Pwrite(int fd, byte* buffer, nuint count, long offset)
    {
        try
        {
            return (nint)Kernel.Pwrite(fd, new ReadOnlySpan<byte>(buffer, Clamp(count)), offset);
        }
        catch (Exception e)
        {
            return Crashed("pwrite", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_mmap")]
    private static nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset)
    {
        try
        {
            nint rc = Kernel.Mmap(address, length, protection, flags, fd, offset);
            if (rc < 0 && EngineConfiguration.Trace)
            {
                Report($"mmap(fd {fd}, offset 0x{offset:x}) = -{(Abi.Interop.Errno)(-rc)}: {Kernel.LastErrorReason}");
            }

            return rc;
        }
        catch (Exception e)
        {
            return Crashed("mmap", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_forget")]
    private static void Forget(nint address, nuint length)
    {
        try
        {
            Kernel.ForgetMemory(address, length);
        }
        catch (Exception e)
        {
            _ = Crashed("forget", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_poll")]
    private static int Poll(PollFd* fds, nuint count, int timeout)
    {
        try
        {
            return Kernel.Poll(new Span<PollFd>(fds, Clamp(count)), timeout);
        }
        catch (Exception e)
        {
            return Crashed("poll", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_readlink")]
    private static int ReadLink(byte* path, byte* buffer, nuint size)
    {
        try
        {
            int length = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(path).Length;
            return Traced(Kernel.ReadLink(new ReadOnlySpan<byte>(path, length + 1), new Span<byte>(buffer, Clamp(size))), "readlink", path);
        }
        catch (Exception e)
        {
            return Crashed("readlink", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_lseek")]
    private static long Lseek(int fd, long offset, int whence)
    {
        try
        {
            return Kernel.Lseek(fd, offset, whence);
        }
        catch (Exception e)
        {
            return Crashed("lseek", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_duplicated")]
    private static void Duplicated(int fd, int copy)
    {
        try
        {
            Kernel.Duplicated(fd, copy);
        }
        catch (Exception e)
        {
            _ = Crashed("dup", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_fstat")]
    private static int Fstat(int fd, byte* stat)
    {
        try
        {
            return Kernel.Fstat(fd, new Span<byte>(stat, 144)) ? 0 : -(int)Abi.Interop.Errno.EBADF;
        }
        catch (Exception e)
        {
            return Crashed("fstat", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_stat")]
    private static int Stat(byte* path, int follow, byte* stat)
    {
        try
        {
            int length = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(path).Length;
            return Kernel.StatPath(new ReadOnlySpan<byte>(path, length + 1), follow != 0, new Span<byte>(stat, 144));
        }
        catch (Exception e)
        {
            return Crashed("stat", e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "abi_engine_getdents64")]
    private static nint GetDents64(int fd, byte* buffer, nuint count)
    {
        try
        {
            return (nint)Kernel.GetDents64(fd, new Span<byte>(buffer, Clamp(count)));
        }
        catch (Exception e)
        {
            return Crashed("getdents64", e);
        }
    }

    /// <summary>A faulting load or store in a trapped BAR mapping: 0 when performed, -EFAULT when no trapped mapping covers the address.</summary>
    [UnmanagedCallersOnly(EntryPoint = "abi_engine_mmio")]
    private static int Mmio(nuint address, int size, int write, ulong* value)
    {
        try
        {
            return Kernel.MmioAccess(address, size, write != 0, ref *value) switch
            {
                MmioResult.Performed => 0,
                MmioResult.BusError => -(int)Abi.Interop.Errno.EIO,
                _ => -(int)Abi.Interop.Errno.EFAULT,
            };
        }
        catch (Exception e)
        {
            return Crashed("mmio", e);
        }
    }

    private static void MarkDescriptor(int fd, bool open)
    {
        if ((uint)fd < (uint)s_fdCount)
        {
            Volatile.Write(ref s_fds[fd], open ? (byte)1 : (byte)0);
        }
    }

    // A Span cannot exceed int.MaxValue; the kernel caps a single read or write near that too (MAX_RW_COUNT).
    private static int Clamp(nuint count) => count > int.MaxValue - 4095 ? int.MaxValue - 4095 : (int)count;

    private static int Traced(int rc, string call, byte* path)
    {
        if (rc < 0 && EngineConfiguration.Trace)
        {
            Report($"{call}({Marshal.PtrToStringUTF8((nint)path)}) = -{(Abi.Interop.Errno)(-rc)}: {Kernel.LastErrorReason}");
        }

        return rc;
    }

    private static int Crashed(string call, Exception e)
    {
        Report($"{call} failed inside the engine: {e}");
        return -(int)Abi.Interop.Errno.EIO;
    }

    // Straight to fd 2 with write(2): System.Console would set up terminal handling in the host program.
    private static void Report(string message)
    {
        byte[] bytes = Encoding.UTF8.GetBytes("abi-engine: " + message + "\n");
        fixed (byte* p = bytes)
        {
            _ = WriteStandardError(2, p, (nuint)bytes.Length);
        }
    }

    [LibraryImport("libc", EntryPoint = "write")]
    private static partial nint WriteStandardError(int fd, byte* buffer, nuint count);
}
