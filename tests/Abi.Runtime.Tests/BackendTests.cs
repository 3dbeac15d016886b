using Abi.Runtime.Kernel;

namespace Abi.Runtime.Tests;

public sealed class BackendTests
{
    [Fact]
    public void WithVfioNodes_TheKernelIsChosen_AndSaidOnce()
    {
        var said = new List<string>();
        IKernel kernel = Backend.Resolve(null, path => path == "/dev/iommu", _ => false, said.Add);
        Assert.Same(LinuxKernel.Instance, kernel);
        Assert.Equal(["abi: using the kernel backend (/dev/iommu exists)"], said);
    }

    [Fact]
    public void TheVariable_OverridesTheProbe()
    {
        var said = new List<string>();
        Assert.Same(LinuxKernel.Instance, Backend.Resolve("kernel", _ => false, _ => false, said.Add));
        Assert.Equal(["abi: using the kernel backend (ABI_BACKEND=kernel)"], said);
        Assert.Throws<ArgumentException>(() => Backend.Resolve("gpu", _ => false, _ => false, said.Add));
    }

    [Fact]
    public void WithoutVfioNodes_TheEngineIsChosen_AndItsAbsenceIsSaidPlainly()
    {
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => Backend.Resolve(null, _ => false, _ => false, _ => { }));
        Assert.Contains("engine is not available", e.Message, StringComparison.Ordinal);
    }
}
