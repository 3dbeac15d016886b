namespace Abi.Headers;

/// <summary>The header set the Linux bindings are made from, and the default model file name per profile.</summary>
public static class LinuxHeaderSet
{
    /// <summary>The UAPI headers of iommufd and VFIO.</summary>
    public static IReadOnlyList<string> Headers { get; } = ["linux/iommufd.h", "linux/vfio.h"];

    /// <summary>The Debian multiarch triplet whose <c>asm/</c> headers go with a clang target triple.</summary>
    public static string TripletOf(string target) => target switch
    {
        "x86_64-linux-gnu" or "x86_64-pc-linux-gnu" or "x86_64-unknown-linux-gnu" => "x86_64-linux-gnu",
        "aarch64-linux-gnu" or "aarch64-unknown-linux-gnu" => "aarch64-linux-gnu",
        _ => target,
    };

    /// <summary>The checked-in model's file name, e.g. <c>linux-iommufd-vfio.7.2.abi.json</c>.</summary>
    public static string ModelFileName(string profile) => $"linux-iommufd-vfio.{profile}.abi.json";
}
