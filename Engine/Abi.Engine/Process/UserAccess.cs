using Abi.Engine.Native;

namespace Abi.Engine.Process;

/// <summary>
/// copy_from_user / copy_to_user for the engine: pointers nested in ioctl arguments (range arrays,
/// bitmaps, data blobs) are copied with <c>process_vm_readv/writev</c> on this process, which fail
/// with EFAULT on an unmapped or protected address instead of crashing it, as the kernel's copies do.
/// </summary>
internal static unsafe class UserAccess
{
    private static readonly int s_pid = Environment.ProcessId;

    /// <summary>Copies <paramref name="destination"/>.Length bytes from user address <paramref name="source"/>; false on a fault.</summary>
    public static bool TryRead(ulong source, Span<byte> destination)
    {
        if (destination.IsEmpty)
        {
            return true;
        }

        if (source == 0)
        {
            return false;
        }

        fixed (byte* local = destination)
        {
            var l = new Libc.IoVec { Base = (nint)local, Length = (nuint)destination.Length };
            var r = new Libc.IoVec { Base = (nint)source, Length = (nuint)destination.Length };
            return Libc.ProcessVmReadv(s_pid, &l, 1, &r, 1, 0) == destination.Length;
        }
    }

    /// <summary>Copies <paramref name="source"/> to user address <paramref name="destination"/>; false on a fault.</summary>
    public static bool TryWrite(ulong destination, ReadOnlySpan<byte> source)
    {
        if (source.IsEmpty)
        {
            return true;
        }

        if (destination == 0)
        {
            return false;
        }

        fixed (byte* local = source)
        {
            var l = new Libc.IoVec { Base = (nint)local, Length = (nuint)source.Length };
            var r = new Libc.IoVec { Base = (nint)destination, Length = (nuint)source.Length };
            return Libc.ProcessVmWritev(s_pid, &l, 1, &r, 1, 0) == source.Length;
        }
    }
}
