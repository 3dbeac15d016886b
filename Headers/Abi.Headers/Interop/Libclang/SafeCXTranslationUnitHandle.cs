using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Abi.Headers.Interop.Libclang;

/// <summary>Owns a <c>CXTranslationUnit</c>. Cursors taken from it are valid only while it lives.</summary>
internal sealed unsafe class SafeCXTranslationUnitHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public SafeCXTranslationUnitHandle()
        : base(ownsHandle: true)
    {
    }

    public CXCursor Cursor => Libclang.clang_getTranslationUnitCursor(this);

    /// <summary>Parses <paramref name="contents"/> as the in-memory file <paramref name="fileName"/>.</summary>
    /// <exception cref="InvalidOperationException">libclang refused the arguments or crashed.</exception>
    public static SafeCXTranslationUnitHandle Parse(SafeCXIndexHandle index, string fileName, string contents, IReadOnlyList<string> arguments, CXTranslationUnit_Flags flags)
    {
        byte[] name = NulTerminated(fileName);
        byte[] text = Encoding.UTF8.GetBytes(contents);
        byte[][] args = arguments.Select(NulTerminated).ToArray();
        var pins = new GCHandle[args.Length];
        var argv = new byte*[args.Length];
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                pins[i] = GCHandle.Alloc(args[i], GCHandleType.Pinned);
                argv[i] = (byte*)pins[i].AddrOfPinnedObject();
            }

            fixed (byte* pName = name)
            fixed (byte* pText = text)
            fixed (byte** pArgv = argv)
            {
                var unsaved = new CXUnsavedFile { Filename = pName, Contents = pText, Length = (nuint)text.Length };
                nint tu;
                CXErrorCode error = Libclang.clang_parseTranslationUnit2(index, pName, pArgv, argv.Length, &unsaved, 1, flags, &tu);
                if (error != CXErrorCode.CXError_Success || tu == 0)
                {
                    throw new InvalidOperationException($"libclang could not parse {fileName}: {error}");
                }

                var handle = new SafeCXTranslationUnitHandle();
                handle.SetHandle(tu);
                return handle;
            }
        }
        finally
        {
            foreach (GCHandle pin in pins)
            {
                if (pin.IsAllocated)
                {
                    pin.Free();
                }
            }
        }
    }

    /// <summary>The diagnostics of at least <paramref name="minimum"/> severity, formatted as clang prints them.</summary>
    public List<string> Diagnostics(CXDiagnosticSeverity minimum)
    {
        var messages = new List<string>();
        uint count = Libclang.clang_getNumDiagnostics(this);
        for (uint i = 0; i < count; i++)
        {
            nint diagnostic = Libclang.clang_getDiagnostic(this, i);
            try
            {
                if (Libclang.clang_getDiagnosticSeverity(diagnostic) >= minimum)
                {
                    // 0x1 | 0x2: show the source location with its column.
                    messages.Add(Libclang.TakeString(Libclang.clang_formatDiagnostic(diagnostic, 0x3)));
                }
            }
            finally
            {
                Libclang.clang_disposeDiagnostic(diagnostic);
            }
        }

        return messages;
    }

    protected override bool ReleaseHandle()
    {
        Libclang.clang_disposeTranslationUnit(handle);
        return true;
    }

    private static byte[] NulTerminated(string text)
    {
        byte[] bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }
}
