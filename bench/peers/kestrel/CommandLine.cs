using System.Globalization;
using System.Security.Cryptography.X509Certificates;

namespace Tern.Bench.Kestrel;

/// <summary>The peer's options, parsed without a package.</summary>
internal static class CommandLine
{
    private const string UsageText =
        "usage: Tern.Bench.Kestrel --port P [--ping-interval SECONDS] [--cert cert.pem --key key.pem] [--deflate]";

    public static int Port(string[] args)
    {
        var value = ValueOf(args, "--port");
        if (value is not null && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            && port is >= 1 and <= 65535)
        {
            return port;
        }

        Console.Error.WriteLine(UsageText);
        Environment.Exit(1);
        return 0;
    }

    /// <summary>The certificate to serve https/wss with (--cert and --key, PEM files), or null for plain http/ws.</summary>
    public static X509Certificate2? Certificate(string[] args)
    {
        var certificate = ValueOf(args, "--cert");
        var key = ValueOf(args, "--key");
        if (certificate is null && key is null)
        {
            return null;
        }

        if (certificate is null || key is null)
        {
            Console.Error.WriteLine(UsageText);
            Environment.Exit(1);
        }

        return X509Certificate2.CreateFromPemFile(certificate, key);
    }

    /// <summary>
    /// --deflate: permessage-deflate through ASP.NET Core's <see cref="WebSocketAcceptContext"/> (the server keeps
    /// no compression context between messages; the client's no_context_takeover offer is accepted as made).
    /// </summary>
    public static WebSocketAcceptContext AcceptContext(string[] args) =>
        args.Contains("--deflate")
            ? new WebSocketAcceptContext { DangerousEnableCompression = true, DisableServerContextTakeover = true }
            : new WebSocketAcceptContext();

    /// <summary>
    /// ASP.NET Core's defaults (an unsolicited pong every 2 minutes) unless --ping-interval is given: then a ping
    /// every that many seconds, and a connection whose pong does not come back within as long is aborted.
    /// </summary>
    public static WebSocketOptions WebSocketOptions(string[] args)
    {
        var options = new WebSocketOptions();
        var value = ValueOf(args, "--ping-interval");
        if (value is null)
        {
            return options;
        }

        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds <= 0)
        {
            throw new ArgumentException($"--ping-interval needs a positive number of seconds, not {value}");
        }

        options.KeepAliveInterval = TimeSpan.FromSeconds(seconds);
        options.KeepAliveTimeout = TimeSpan.FromSeconds(seconds);
        return options;
    }

    private static string? ValueOf(string[] args, string name)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }
}
