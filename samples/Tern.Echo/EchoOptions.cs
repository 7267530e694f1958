using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Tern;

namespace Tern.Echo;

/// <summary>
/// The echo server's settings, read the .NET way: an optional appsettings.json next to the program, then environment
/// variables prefixed <c>TERN_ECHO_</c>, then the command line (<c>--port 9001</c>), each overriding the one before.
/// </summary>
internal sealed class EchoOptions
{
    public const string Usage = """
        Tern.Echo: a WebSocket echo server.
          --port N           port to listen on (default 9001; 0 picks a free one)           [env TERN_ECHO_PORT]
          --host ADDRESS     address to listen on (default 127.0.0.1; :: for IPv4 and IPv6)  [env TERN_ECHO_HOST]
          --max-message N    largest message accepted, in bytes (default 67108864)        [env TERN_ECHO_MAXMESSAGE]
          --quiet            log warnings and errors only                                 [env TERN_ECHO_QUIET=true]
          --verbose          also log every connection opened and closed (Debug)          [env TERN_ECHO_VERBOSE=true]
          --cert FILE        serve wss with this PEM certificate (chain); needs --key        [env TERN_ECHO_CERT]
          --key FILE         the PEM private key of --cert                                [env TERN_ECHO_KEY]
          --pfx FILE         serve wss with this PFX (PKCS#12) certificate and key         [env TERN_ECHO_PFX]
          --pfx-password X   the password of --pfx                                        [env TERN_ECHO_PFXPASSWORD]
          --deflate          accept permessage-deflate (RFC 7692) compression              [env TERN_ECHO_DEFLATE=true]
          --deflate-min-size N  with --deflate, send messages under N bytes uncompressed
                             (default: Tern's MinimumMessageSize, 1024)              [env TERN_ECHO_DEFLATEMINSIZE]
        The same keys (Port, Host, MaxMessage, Quiet, Verbose, Cert, Key, Pfx, PfxPassword, Deflate, DeflateMinSize) may be
        set in an appsettings.json next to the program.
        """;

    // The command line's spelling of each option; the keys are the property names below.
    private static readonly Dictionary<string, string> Switches = new(StringComparer.Ordinal)
    {
        ["--port"] = nameof(Port),
        ["--host"] = nameof(Host),
        ["--max-message"] = nameof(MaxMessage),
        ["--quiet"] = nameof(Quiet),
        ["--verbose"] = nameof(Verbose),
        ["--cert"] = nameof(Cert),
        ["--key"] = nameof(Key),
        ["--pfx"] = nameof(Pfx),
        ["--pfx-password"] = nameof(PfxPassword),
        ["--deflate"] = nameof(Deflate),
        ["--deflate-min-size"] = nameof(DeflateMinSize),
    };

    /// <summary>The port; 0 picks a free one.</summary>
    public int Port { get; set; } = 9001;

    /// <summary>The address to listen on.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>The largest message accepted, in bytes.</summary>
    public long MaxMessage { get; set; } = 64L * 1024 * 1024;

    /// <summary>Log warnings and errors only.</summary>
    public bool Quiet { get; set; }

    /// <summary>Log at Debug too: every connection opened and closed, every HTTP request.</summary>
    public bool Verbose { get; set; }

    /// <summary>A PEM certificate file: with <see cref="Key"/>, the server speaks wss.</summary>
    public string? Cert { get; set; }

    /// <summary>The PEM private key of <see cref="Cert"/>.</summary>
    public string? Key { get; set; }

    /// <summary>A PFX (PKCS#12) file with certificate and key: the server speaks wss.</summary>
    public string? Pfx { get; set; }

    /// <summary>The password of <see cref="Pfx"/>.</summary>
    public string? PfxPassword { get; set; }

    /// <summary>Accept permessage-deflate with Tern's defaults (no context takeover: no zlib state on idle connections).</summary>
    public bool Deflate { get; set; }

    /// <summary>With <see cref="Deflate"/>: messages shorter than this go out uncompressed; null keeps Tern's default.</summary>
    public int? DeflateMinSize { get; set; }

    /// <summary>Reads the settings; throws <see cref="FormatException"/> with a message for the user when they are wrong.</summary>
    public static EchoOptions Load(string[] args)
    {
        // --quiet, --verbose and --deflate are flags, but the command-line provider reads every switch as "--key value": a trailing
        // --quiet would be dropped and "--quiet --port 1" would read "--port" as its value. Give them their value.
        string[] normalized = args.Select(a => a is "--quiet" or "--verbose" or "--deflate" ? a + "=true" : a).ToArray();
        CheckSwitches(normalized);

        IConfiguration configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables("TERN_ECHO_")
            .AddCommandLine(normalized, Switches)
            .Build();
        var options = new EchoOptions();
        try
        {
            configuration.Bind(options);
        }
        catch (InvalidOperationException e)
        {
            // "Failed to convert configuration value '...' at 'Port' to type 'System.Int32'."
            throw new FormatException($"{e.Message} See --help.", e);
        }

        return options;
    }

    /// <summary>The address to listen on, parsed.</summary>
    public IPAddress ParseHost() =>
        IPAddress.TryParse(Host, out IPAddress? address) ? address : throw new FormatException($"--host {Host} is not an IP address; see --help.");

    /// <summary>
    /// The TLS settings from --cert/--key or --pfx, or null for plain ws; throws <see cref="FormatException"/> with a
    /// message for the user when they are incomplete or the files cannot be used.
    /// </summary>
    public WebSocketTlsOptions? LoadTls()
    {
        try
        {
            return WebSocketTlsOptions.FromFiles(Cert, Key, Pfx, PfxPassword);
        }
        catch (ArgumentException e) when (e is not ArgumentNullException)
        {
            throw new FormatException($"{e.Message} Use --cert FILE --key FILE, or --pfx FILE [--pfx-password X]; see --help.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            string hint = Pfx is not null && e is CryptographicException ? " Is it a PFX file, and is --pfx-password right?" : "";
            throw new FormatException($"Cannot load the certificate from {Pfx ?? Cert}: {e.Message}{hint}", e);
        }
    }

    /// <summary>
    /// The permessage-deflate settings from --deflate and --deflate-min-size, or null when compression is off; throws
    /// <see cref="FormatException"/> with a message for the user when they do not fit together.
    /// </summary>
    public WebSocketCompressionOptions? LoadCompression()
    {
        if (!Deflate)
        {
            return DeflateMinSize is null ? null : throw new FormatException("--deflate-min-size needs --deflate; see --help.");
        }

        var compression = new WebSocketCompressionOptions();
        if (DeflateMinSize is int minimum)
        {
            try
            {
                compression.MinimumMessageSize = minimum;
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new FormatException($"--deflate-min-size {minimum}: {e.Message} See --help.", e);
            }
        }

        return compression;
    }

    private static void CheckSwitches(string[] args)
    {
        // The provider accepts any --key; an unknown one (a typo) must fail rather than be ignored.
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i].Split('=', 2)[0];
            if (!Switches.ContainsKey(name))
            {
                throw new FormatException($"Unknown option {args[i]}; see --help.");
            }

            if (!args[i].Contains('=', StringComparison.Ordinal))
            {
                if (i + 1 >= args.Length)
                {
                    throw new FormatException($"{name} needs a value; see --help.");
                }

                i++; // the value
            }
        }
    }
}
