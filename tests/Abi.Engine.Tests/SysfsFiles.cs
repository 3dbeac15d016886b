using System.Text;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Tests;

/// <summary>Reads and writes sysfs attributes of a kernel as a shell's cat and echo do, answering -errno.</summary>
internal static class SysfsFiles
{
    /// <summary>Writes <paramref name="text"/> in one write: 0, or the -errno of the open or the write.</summary>
    public static int Write(IKernel kernel, string path, string text)
    {
        int fd = kernel.Open(Z(path), LinuxConstants.O_WRONLY, 0);
        if (fd < 0)
        {
            return fd;
        }

        long n = kernel.Write(fd, Encoding.ASCII.GetBytes(text));
        kernel.Close(fd);
        return n < 0 ? (int)n : 0;
    }

    /// <summary>The attribute's text without its trailing newline.</summary>
    public static string Read(IKernel kernel, string path)
    {
        int fd = kernel.Open(Z(path), LinuxConstants.O_RDONLY, 0);
        Assert.True(fd >= 0, $"{path}: open answered {fd}");
        byte[] buffer = new byte[64];
        long n = kernel.Read(fd, buffer);
        kernel.Close(fd);
        return Encoding.ASCII.GetString(buffer, 0, (int)n).TrimEnd('\n');
    }

    /// <summary>A link's target.</summary>
    public static string ReadLink(IKernel kernel, string path)
    {
        byte[] buffer = new byte[256];
        int n = kernel.ReadLink(Z(path), buffer);
        Assert.True(n >= 0, $"{path}: readlink answered {n}");
        return Encoding.ASCII.GetString(buffer, 0, n);
    }

    /// <summary>A path as the kernel takes it, NUL-terminated.</summary>
    public static byte[] Z(string path) => Encoding.UTF8.GetBytes(path + "\0");
}
