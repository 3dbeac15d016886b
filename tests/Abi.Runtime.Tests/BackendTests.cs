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
    public void WithoutVfioNodes_TheEngineIsChosen()
    {
        var said = new List<string>();
        IKernel kernel = Backend.Resolve(null, _ => false, _ => false, said.Add);
        Assert.Same(Abi.Runtime.Engine.EmulatedKernel.Shared, kernel);
        Assert.Equal(["abi: using the engine backend (no /dev/iommu or /dev/vfio here)"], said);
    }
}
