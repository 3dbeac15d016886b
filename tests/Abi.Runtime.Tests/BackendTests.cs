using Abi.Runtime.Kernel;

namespace Abi.Runtime.Tests;

public sealed class BackendTests
{
    [Fact]
    public void WithVfioNodes_TheKernelIsChosen_AndSaidOnce()
    {
        var said = new List<string>();
        IKernel kernel = Backend.Resolve(null, path => path == "/dev/iommu", _ => false, said.Add, null);
        Assert.Same(LinuxKernel.Instance, kernel);
        Assert.Equal(["abi: using the kernel backend (/dev/iommu exists)"], said);
    }

    [Fact]
    public void TheVariable_OverridesTheProbe()
    {
        var said = new List<string>();
        Assert.Same(LinuxKernel.Instance, Backend.Resolve("kernel", _ => false, _ => false, said.Add, null));
        Assert.Equal(["abi: using the kernel backend (ABI_BACKEND=kernel)"], said);
        Assert.Throws<ArgumentException>(() => Backend.Resolve("gpu", _ => false, _ => false, said.Add, null));
    }

    [Fact]
    public void WithoutVfioNodes_TheRegisteredEngineIsChosen()
    {
        var said = new List<string>();
        IKernel engine = new NamedKernel("engine");
        IKernel kernel = Backend.Resolve(null, _ => false, _ => false, said.Add, () => engine);
        Assert.Same(engine, kernel);
        Assert.Equal(["abi: using the engine backend (no /dev/iommu or /dev/vfio here)"], said);
    }

    [Fact]
    public void WithoutVfioNodes_AndNoEngine_SaysWhatToReference()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Backend.Resolve(null, _ => false, _ => false, _ => { }, null));
        Assert.Contains("EmulatedKernel.Register()", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A stand-in backend: the choice only reads its name, and the runtime knows no engine type.</summary>
    private sealed class NamedKernel(string name) : IKernel
    {
        public string Name => name;

        public string? LastErrorReason => null;

        public int Open(ReadOnlySpan<byte> path, int flags, int mode) => throw new NotSupportedException();

        public int Close(int fd) => throw new NotSupportedException();

        public int Ioctl(int fd, uint request, nint argument) => throw new NotSupportedException();

        public nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset) => throw new NotSupportedException();

        public int Munmap(nint address, nuint length) => throw new NotSupportedException();

        public long Pread(int fd, Span<byte> buffer, long offset) => throw new NotSupportedException();

        public long Pwrite(int fd, ReadOnlySpan<byte> buffer, long offset) => throw new NotSupportedException();

        public long Read(int fd, Span<byte> buffer) => throw new NotSupportedException();

        public long Write(int fd, ReadOnlySpan<byte> buffer) => throw new NotSupportedException();

        public long Lseek(int fd, long offset, int whence) => throw new NotSupportedException();

        public int ReadLink(ReadOnlySpan<byte> path, Span<byte> buffer) => throw new NotSupportedException();

        public long GetDents64(int fd, Span<byte> buffer) => throw new NotSupportedException();

        public int EventFd(uint initialValue, int flags) => throw new NotSupportedException();

        public int Poll(Span<PollFd> fds, int timeoutMilliseconds) => throw new NotSupportedException();
    }
}
