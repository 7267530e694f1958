using System.Runtime.InteropServices;

namespace Tern.Chat.Tests.Support;

/// <summary>POSIX signals for the processes the tests start (the chat, nginx).</summary>
public static class Posix
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    /// <summary>Sends <paramref name="signal"/> to the process; 0 when it was delivered (libc kill's result).</summary>
    public static int Signal(int pid, int signal) => kill(pid, signal);

    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054 // a plain P/Invoke is enough for a test
    private static extern int kill(int pid, int signal);
#pragma warning restore SYSLIB1054
}

/// <summary>Loopback ports for the servers the tests start.</summary>
public static class LoopbackPort
{
    /// <summary>
    /// A port that was free a moment ago, for a server that must be told its port in advance (PostgreSQL, nginx, a
    /// node restarted on the port it had); another process taking it in between makes that server's start fail loudly.
    /// </summary>
    public static int Free()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
