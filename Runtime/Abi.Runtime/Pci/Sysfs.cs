using System.Text;
using Abi.Runtime.Kernel;

namespace Abi.Runtime.Pci;

/// <summary>
/// Reading sysfs through the seam (open/read, readlink, getdents64), so that the engine can show its
/// own machine and a kernel its real one. Discovery, not a hot path: it allocates.
/// </summary>
internal static class Sysfs
{
    /// <summary>A small attribute's text without its trailing newline, or null when it cannot be read.</summary>
    public static string? ReadText(IKernel kernel, string path)
    {
        int fd = kernel.Open(Encoding.UTF8.GetBytes(path + "\0"), LinuxConstants.O_RDONLY | LinuxConstants.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return null;
        }

        try
        {
            byte[] buffer = new byte[4096];
            long n = kernel.Read(fd, buffer);
            return n < 0 ? null : Encoding.UTF8.GetString(buffer, 0, (int)n).TrimEnd('\n');
        }
        finally
        {
            kernel.Close(fd);
        }
    }

    /// <summary>Writes <paramref name="text"/> to an attribute in one write: 0, or <c>-errno</c> from the open or the write.</summary>
    public static int WriteText(IKernel kernel, string path, string text)
    {
        int fd = kernel.Open(Encoding.UTF8.GetBytes(path + "\0"), LinuxConstants.O_WRONLY | LinuxConstants.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return fd;
        }

        try
        {
            long n = kernel.Write(fd, Encoding.UTF8.GetBytes(text));
            return n < 0 ? (int)n : 0;
        }
        finally
        {
            kernel.Close(fd);
        }
    }

    /// <summary>A symbolic link's target as stored (often relative), or null when the path is not a link.</summary>
    public static string? ReadLink(IKernel kernel, string path)
    {
        byte[] buffer = new byte[4096];
        int n = kernel.ReadLink(Encoding.UTF8.GetBytes(path + "\0"), buffer);
        return n < 0 ? null : Encoding.UTF8.GetString(buffer, 0, n);
    }

    /// <summary>The last component of a link's target (a driver's or group's name), or null.</summary>
    public static string? LinkName(IKernel kernel, string path) => ReadLink(kernel, path) is string target ? target[(target.LastIndexOf('/') + 1)..] : null;

    /// <summary>A directory's entries without <c>.</c> and <c>..</c>, sorted; -errno when it cannot be listed.</summary>
    public static int List(IKernel kernel, string path, out List<string> names)
    {
        names = [];
        int fd = kernel.Open(Encoding.UTF8.GetBytes(path + "\0"), LinuxConstants.O_RDONLY | LinuxConstants.O_DIRECTORY | LinuxConstants.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return fd;
        }

        try
        {
            byte[] buffer = new byte[8192];
            while (true)
            {
                long n = kernel.GetDents64(fd, buffer);
                if (n < 0)
                {
                    return (int)n;
                }

                if (n == 0)
                {
                    break;
                }

                foreach ((string name, byte _) in DirectoryEntries.Read(buffer, (int)n))
                {
                    if (name is not "." and not "..")
                    {
                        names.Add(name);
                    }
                }
            }

            names.Sort(StringComparer.Ordinal);
            return 0;
        }
        finally
        {
            kernel.Close(fd);
        }
    }
}
