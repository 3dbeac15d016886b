using Abi.Headers.Extraction;

namespace Abi.Headers.Tests;

/// <summary>kernel-doc parsing, on comments written for these tests in the kernel's format.</summary>
public sealed class KernelDocTests
{
    [Fact]
    public void StructComment_GivesSummaryMembersAndDescription()
    {
        const string raw = """
            /**
             * struct widget_frob - ioctl(WIDGET_FROB)
             * @size: sizeof(struct widget_frob)
             * @count: How many times to frob the widget; zero frobs
             *         until told to stop
             *
             * Frobs a widget. The second sentence.
             *
             * A second paragraph.
             */
            """;
        KernelDoc doc = KernelDoc.Parse(raw)!;
        Assert.Equal("struct widget_frob", doc.Title);
        Assert.Equal("ioctl(WIDGET_FROB)", doc.Summary);
        Assert.Equal("sizeof(struct widget_frob)", doc.MemberText("size"));
        Assert.Equal("How many times to frob the widget; zero frobs until told to stop", doc.MemberText("count"));
        Assert.Equal("Frobs a widget. The second sentence.\n\nA second paragraph.", doc.Description);
    }

    [Fact]
    public void WrappedTitle_IsJoined()
    {
        const string raw = "/**\n * WIDGET_GET - _IOR(WIDGET_TYPE, WIDGET_BASE + 3,\n *\t\t\tstruct widget_info)\n *\n * Gets it.\n */";
        KernelDoc doc = KernelDoc.Parse(raw)!;
        Assert.Equal("WIDGET_GET", doc.Title);
        Assert.Equal("_IOR(WIDGET_TYPE, WIDGET_BASE + 3, struct widget_info)", doc.Summary);
        Assert.Equal("Gets it.", doc.Description);
    }

    [Fact]
    public void OrdinaryComment_IsNotKernelDocUnlessAsked()
    {
        const string raw = "/*\n * WIDGET_SET - _IOW(WIDGET_TYPE, WIDGET_BASE + 4, struct widget_set)\n */";
        Assert.Null(KernelDoc.Parse(raw));
        Assert.Equal("WIDGET_SET", KernelDoc.Parse(raw, anyComment: true)!.Title);
        Assert.Equal("Identifies capability", KernelDoc.PlainText("/* Identifies capability */"));
        Assert.Null(KernelDoc.PlainText(string.Empty));
    }
}
