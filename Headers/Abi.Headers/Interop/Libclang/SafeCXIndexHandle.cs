using Microsoft.Win32.SafeHandles;

namespace Abi.Headers.Interop.Libclang;

/// <summary>Owns a <c>CXIndex</c>.</summary>
internal sealed class SafeCXIndexHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeCXIndexHandle()
        : base(ownsHandle: true)
    {
    }

    /// <summary>Creates an index that does not print diagnostics to stderr (the caller collects them).</summary>
    public static SafeCXIndexHandle Create()
    {
        var handle = new SafeCXIndexHandle();
        handle.SetHandle(Libclang.clang_createIndex(excludeDeclarationsFromPCH: 0, displayDiagnostics: 0));
        return handle;
    }

    protected override bool ReleaseHandle()
    {
        Libclang.clang_disposeIndex(handle);
        return true;
    }
}
