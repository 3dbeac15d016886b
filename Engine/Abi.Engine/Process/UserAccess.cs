using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Abi.Engine.Native;
using Abi.Interop;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Process;

/// <summary>
/// The engine's <c>copy_from_user</c>, <c>copy_to_user</c>, <c>get_user</c>, <c>check_zeroed_user</c> and
/// <c>copy_struct_from_user</c>: every read or write of caller memory goes through here, so an unmapped,
/// partly mapped, <c>PROT_NONE</c>, read-only (for writes), non-canonical or kernel-half address is an
/// EFAULT, as in the kernel, never a crash of the process.
/// </summary>
/// <remarks>
/// Caller memory is copied with <c>process_vm_readv/writev</c> on this process: the kernel walks the
/// page tables and fails with EFAULT where its own copy would fault. That is one syscall per copy
/// (about 2 µs in this sandbox), too slow for the ioctl hot path, so memory the engine knows to be
/// mapped is copied directly: the calling thread's live stack, from the current stack pointer to the
/// stack's top as pthread reports it (the common case: a C or C# driver builds its ioctl arguments as
/// locals). A thread running on a stack of its own making (makecontext, a green thread) is outside
/// pthread's bounds and takes the checked path.
/// </remarks>
internal static unsafe class UserAccess
{
    /// <summary>x86-64's TASK_SIZE_MAX with 4-level paging: the first address <c>access_ok</c> refuses.</summary>
    public const ulong TaskSizeMax = (1UL << 47) - LinuxConstants.PageSize;

    private static readonly int s_ownPid = Environment.ProcessId;

    // Where the interposer keeps the current pid: it changes in a fork child, whose copy of the
    // engine must reach the child's memory, not the parent's (Environment.ProcessId is cached).
    private static volatile int* s_pidCell;

    private static int Pid => s_pidCell is null ? s_ownPid : *s_pidCell;

    /// <summary>Reads the pid for user copies from <paramref name="cell"/>, which its owner updates after a fork.</summary>
    public static void FollowProcessId(int* cell) => s_pidCell = cell;

    /// <summary><c>access_ok</c>: the whole range lies in the user half and does not wrap.</summary>
    public static bool AccessOk(ulong address, ulong size) => address <= TaskSizeMax && size <= TaskSizeMax - address;

    /// <summary><c>copy_from_user</c>: copies <paramref name="destination"/>.Length bytes from <paramref name="source"/>; false on a fault.</summary>
    public static bool TryRead(ulong source, Span<byte> destination)
    {
        if (destination.IsEmpty)
        {
            return true;
        }

        if (!AccessOk(source, (ulong)destination.Length))
        {
            return false;
        }

        if (OnThisStack(source, (ulong)destination.Length))
        {
            new ReadOnlySpan<byte>((void*)source, destination.Length).CopyTo(destination);
            return true;
        }

        fixed (byte* local = destination)
        {
            var l = new Libc.IoVec { Base = (nint)local, Length = (nuint)destination.Length };
            var r = new Libc.IoVec { Base = (nint)source, Length = (nuint)destination.Length };
            return Libc.ProcessVmReadv(Pid, &l, 1, &r, 1, 0) == destination.Length;
        }
    }

    /// <summary><c>get_user</c>: one value of type <typeparamref name="T"/>.</summary>
    public static bool TryRead<T>(ulong source, out T value)
        where T : unmanaged
    {
        T local = default;
        bool ok = TryRead(source, new Span<byte>(&local, sizeof(T)));
        value = local;
        return ok;
    }

    /// <summary><c>copy_to_user</c>: copies <paramref name="source"/> to <paramref name="destination"/>; false on a fault (read-only memory included).</summary>
    public static bool TryWrite(ulong destination, ReadOnlySpan<byte> source)
    {
        if (source.IsEmpty)
        {
            return true;
        }

        if (!AccessOk(destination, (ulong)source.Length))
        {
            return false;
        }

        if (OnThisStack(destination, (ulong)source.Length))
        {
            source.CopyTo(new Span<byte>((void*)destination, source.Length));
            return true;
        }

        fixed (byte* local = source)
        {
            var l = new Libc.IoVec { Base = (nint)local, Length = (nuint)source.Length };
            var r = new Libc.IoVec { Base = (nint)destination, Length = (nuint)source.Length };
            return Libc.ProcessVmWritev(Pid, &l, 1, &r, 1, 0) == source.Length;
        }
    }

    /// <summary><c>put_user</c>: one value of type <typeparamref name="T"/>.</summary>
    public static bool TryWrite<T>(ulong destination, in T value)
        where T : unmanaged
    {
        T local = value;
        return TryWrite(destination, new ReadOnlySpan<byte>(&local, sizeof(T)));
    }

    /// <summary>
    /// <c>check_zeroed_user</c> (lib/usercopy.c): 1 when all <paramref name="size"/> bytes are zero, 0 at
    /// the first non-zero one, <c>-EFAULT</c> when the range fails <c>access_ok</c> or a fault comes first.
    /// The kernel reads aligned words, which never straddle a page, and <c>process_vm_readv</c> faults a
    /// page at a time, so reading page by page finds the same first non-zero word or fault.
    /// </summary>
    public static int CheckZeroed(ulong from, ulong size)
    {
        if (size == 0)
        {
            return 1;
        }

        ulong align = from % sizeof(ulong);
        if (!AccessOk(from - align, size + align))
        {
            return -(int)Errno.EFAULT;
        }

        Span<byte> chunk = stackalloc byte[LinuxConstants.PageSize];
        for (ulong at = from, end = from + size; at < end;)
        {
            ulong pageEnd = (at | (LinuxConstants.PageSize - 1)) + 1;
            int n = (int)(Math.Min(pageEnd, end) - at);
            if (!TryRead(at, chunk[..n]))
            {
                return -(int)Errno.EFAULT;
            }

            if (chunk[..n].ContainsAnyExcept((byte)0))
            {
                return 0;
            }

            at += (ulong)n;
        }

        return 1;
    }

    /// <summary>
    /// <c>copy_struct_from_user</c> (include/linux/uaccess.h): a caller's struct of <paramref name="userSize"/>
    /// bytes into the kernel's <paramref name="kernel"/>, zero-extended when shorter; when longer, the extra
    /// bytes must be zero (E2BIG), checked before the copy. 0, <c>-E2BIG</c> or <c>-EFAULT</c>.
    /// </summary>
    public static int CopyStructFromUser(Span<byte> kernel, ulong source, ulong userSize)
    {
        ulong size = (ulong)kernel.Length;
        if (userSize > size)
        {
            int zeroed = CheckZeroed(source + size, userSize - size);
            if (zeroed <= 0)
            {
                return zeroed == 0 ? -(int)Errno.E2BIG : zeroed;
            }
        }

        int common = (int)Math.Min(size, userSize);
        kernel[common..].Clear();
        return TryRead(source, kernel[..common]) ? 0 : -(int)Errno.EFAULT;
    }

    /// <summary>
    /// Reads what can be read of [source, source + destination.Length), page by page; bytes of pages
    /// that cannot be read become zero (a kernel that pins the caller's pages one by one and skips
    /// those it cannot pin, as iova_bitmap does, sees the same).
    /// </summary>
    public static void ReadWhatIsMapped(ulong source, Span<byte> destination)
    {
        for (int done = 0; done < destination.Length;)
        {
            ulong at = source + (ulong)done;
            int n = (int)Math.Min((at | (LinuxConstants.PageSize - 1)) + 1 - at, (ulong)(destination.Length - done));
            if (!TryRead(at, destination.Slice(done, n)))
            {
                destination.Slice(done, n).Clear();
            }

            done += n;
        }
    }

    /// <summary>Reads page by page up to the first page that faults; returns how many bytes were read.</summary>
    public static int ReadPrefix(ulong source, Span<byte> destination)
    {
        int done = 0;
        while (done < destination.Length)
        {
            ulong at = source + (ulong)done;
            int n = (int)Math.Min((at | (LinuxConstants.PageSize - 1)) + 1 - at, (ulong)(destination.Length - done));
            if (!TryRead(at, destination.Slice(done, n)))
            {
                break;
            }

            done += n;
        }

        return done;
    }

    /// <summary>Writes what can be written of <paramref name="source"/> to <paramref name="destination"/>, page by page; pages that cannot be written are skipped.</summary>
    public static void WriteWhatIsMapped(ulong destination, ReadOnlySpan<byte> source)
    {
        for (int done = 0; done < source.Length;)
        {
            ulong at = destination + (ulong)done;
            int n = (int)Math.Min((at | (LinuxConstants.PageSize - 1)) + 1 - at, (ulong)(source.Length - done));
            _ = TryWrite(at, source.Slice(done, n));
            done += n;
        }
    }

    /// <summary>
    /// <c>strnlen_user</c>: the string at <paramref name="source"/> with its NUL, copied into
    /// <paramref name="destination"/>; its length including the NUL, 0 on a fault before the NUL, or -1
    /// when no NUL comes within <paramref name="destination"/>.Length bytes (the kernel's count + 1).
    /// </summary>
    public static int StrnlenUser(ulong source, Span<byte> destination)
    {
        int done = 0;
        while (done < destination.Length)
        {
            ulong at = source + (ulong)done;
            ulong pageEnd = (at | (LinuxConstants.PageSize - 1)) + 1;
            int n = (int)Math.Min(pageEnd - at, (ulong)(destination.Length - done));
            if (!TryRead(at, destination.Slice(done, n)))
            {
                return 0;
            }

            int nul = destination.Slice(done, n).IndexOf((byte)0);
            if (nul >= 0)
            {
                return done + nul + 1;
            }

            done += n;
        }

        return -1;
    }

    /// <summary>
    /// Copies <paramref name="length"/> bytes between two buffers that do not overlap. An ioctl's
    /// struct (16 to 64 bytes for nearly all) moves in two to four overlapping vector loads and
    /// stores, inline: the call into <c>Buffer.Memmove</c> was 7% of a map+unmap pair.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopySmall(byte* destination, byte* source, int length)
    {
        if ((uint)(length - 16) <= 48)
        {
            Vector128<byte> head = Vector128.Load(source);
            Vector128<byte> tail = Vector128.Load(source + length - 16);
            if (length > 32)
            {
                Vector128<byte> second = Vector128.Load(source + 16);
                Vector128<byte> beforeTail = Vector128.Load(source + length - 32);
                second.Store(destination + 16);
                beforeTail.Store(destination + length - 32);
            }

            head.Store(destination);
            tail.Store(destination + length - 16);
        }
        else
        {
            Buffer.MemoryCopy(source, destination, length, length);
        }
    }

    /// <summary>
    /// Copies a handler's answer back (<paramref name="length"/> bytes, buffers that do not overlap) in
    /// 4-byte words where the length allows. The handler has just stored the fields it answers (an
    /// IOVA, a length, an id: 4 or 8 bytes each); a wider load that spans such a store cannot take its
    /// bytes from the store buffer and waits until the store reaches the cache (a store-forwarding
    /// stall: 6% of a map+unmap pair in a profile, at the copy-back's first vector load).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyAnswer(byte* destination, byte* source, int length)
    {
        if ((length & 3) != 0 || length > 64)
        {
            CopySmall(destination, source, length);
            return;
        }

        for (int i = 0; i < length; i += 4)
        {
            *(uint*)(destination + i) = *(uint*)(source + i);
        }
    }

    /// <summary>Whether [address, address + length) lies between this thread's stack pointer and its stack's top: memory that may be copied directly.</summary>
    public static bool OnThisStack(ulong address, ulong length)
    {
        ulong room = StackRoom(address);
        return room != 0 && length <= room;
    }

    /// <summary>
    /// How many bytes from <paramref name="address"/> up lie on this thread's stack above its stack
    /// pointer (0 when the address is not there): one look at the bounds for an argument whose size is
    /// read from its first word.
    /// </summary>
    public static ulong StackRoom(ulong address) => StackRoom(EngineThread.Current, address);

    /// <inheritdoc cref="StackRoom(ulong)"/>
    public static ulong StackRoom(EngineThread thread, ulong address)
    {
        ulong marker = 0;
        ulong sp = (ulong)&marker;
        ulong high = thread.StackHigh;
        return sp >= thread.StackLow && sp < high && address >= sp && address < high ? high - address : 0;
    }

    /// <summary>The calling thread's stack as [low, high); unknown bounds give an empty range (1, 1), so every copy takes the checked path.</summary>
    internal static (ulong Low, ulong High) LearnStack()
    {
        byte* attr = stackalloc byte[Libc.PthreadAttrSize];
        nint low = 0;
        nuint size = 0;
        if (Libc.PthreadGetattrNp(Libc.PthreadSelf(), attr) == 0)
        {
            if (Libc.PthreadAttrGetstack(attr, &low, &size) != 0)
            {
                low = 0;
                size = 0;
            }

            _ = Libc.PthreadAttrDestroy(attr);
        }

        return size == 0 ? (1, 1) : ((ulong)low, (ulong)low + size);
    }
}
