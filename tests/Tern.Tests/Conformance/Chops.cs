namespace Tern.Tests.Conformance;

/// <summary>How a case hands its frames to TCP, after Autobahn: all in one write, one write per frame, or one per byte.</summary>
internal enum Chops
{
    None,
    FrameWise,
    OctetWise,
}

internal static class ChopsExtensions
{
    public static Task SendAsync(this Chops chops, RawClient client, params byte[][] frames) => chops switch
    {
        Chops.FrameWise => client.SendEachAsync(frames),
        Chops.OctetWise => client.SendAsync(WireFrame.Concat(frames), chopSize: 1, chopDelayMs: 1),
        _ => client.SendAsync(WireFrame.Concat(frames)),
    };
}
