using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Abi.Interop;

/// <summary>
/// The argsz negotiation of VFIO's <c>*_INFO</c> ioctls: call with a buffer, and when the kernel
/// answers with a larger <c>argsz</c> (it has capabilities that did not fit), grow the buffer to
/// that size and call again.
/// </summary>
public static class ArgszQuery
{
    /// <summary>First buffer size: room for the struct and a few capabilities, so one call usually suffices.</summary>
    public const int InitialSize = 512;

    /// <summary>A kernel that keeps asking for more after this many calls is not answering in good faith.</summary>
    public const int MaxAttempts = 8;

    /// <summary>Runs the query; the returned buffer holds the struct and its capabilities.</summary>
    /// <exception cref="IoctlException">The ioctl failed.</exception>
    public static unsafe CapabilityBuffer<T> Run<T>(IIoctlSeam seam, int fd, uint request, string ioctl, string fdKind, in T argument)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(seam);
        int size = Math.Max(sizeof(T), InitialSize);
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            byte[] array = ArrayPool<byte>.Shared.Rent(size);
            bool keep = false;
            try
            {
                Span<byte> buffer = array.AsSpan(0, size);
                buffer.Clear();
                MemoryMarshal.Write(buffer, in argument);
                BinaryPrimitives.WriteUInt32LittleEndian(buffer, (uint)size);
                int result;
                fixed (byte* p = buffer)
                {
                    result = seam.Ioctl(fd, request, (nint)p);
                }

                if (result < 0)
                {
                    IoctlException.Throw(ioctl, fdKind, (Errno)(-result));
                }

                uint needed = BinaryPrimitives.ReadUInt32LittleEndian(buffer);
                if (needed <= (uint)size)
                {
                    keep = true;
                    return new CapabilityBuffer<T>(array, Math.Max((int)needed, sizeof(T)));
                }

                size = checked((int)needed);
            }
            finally
            {
                if (!keep)
                {
                    ArrayPool<byte>.Shared.Return(array);
                }
            }
        }

        throw new IoctlException(ioctl, fdKind, Errno.E2BIG, $"argsz still grew after {MaxAttempts} attempts");
    }
}
