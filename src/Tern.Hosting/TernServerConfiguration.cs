using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;

namespace Tern.Hosting;

/// <summary>Binds a configuration section to <see cref="WebSocketServerOptions"/>.</summary>
internal static class TernServerConfiguration
{
    private const string EndPointsKey = nameof(WebSocketServerOptions.EndPoints);

    public static void Bind(IConfiguration section, WebSocketServerOptions options)
    {
        // Everything except EndPoints goes through ConfigurationBinder, so options other engineers add later bind with
        // no change here. EndPoints is left out because IPEndPoint has no string conversion the binder knows; it is
        // parsed below with messages that name the key.
        var rest = new ConfigurationBuilder()
            .AddInMemoryCollection(section.AsEnumerable(makePathsRelative: true)
                .Where(entry => !IsUnder(entry.Key, EndPointsKey)))
            .Build();
        try
        {
            // ErrorOnUnknownConfiguration: a misspelt key ("MaxMesageSize") fails the start instead of being ignored.
            rest.Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"The Tern server's configuration section '{PathOf(section)}' is not valid: {e.Message}", e);
        }

        IConfigurationSection endPoints = section.GetSection(EndPointsKey);
        foreach ((string key, string value) in EndPointValues(endPoints))
        {
            options.EndPoints.Add(ParseEndPoint(key, value));
        }
    }

    /// <summary>
    /// Parses <c>"127.0.0.1:9000"</c>, <c>"[::1]:9000"</c>, <c>"localhost:9000"</c> or <c>"*:9000"</c> (every address,
    /// IPv4 and IPv6). The port is required, so a forgotten one does not silently pick a random port.
    /// </summary>
    public static IPEndPoint ParseEndPoint(string key, string value)
    {
        string text = value.Trim();
        int colon = text.LastIndexOf(':');
        bool hasPort = colon > 0 && (text[0] == '[' ? text[colon - 1] == ']' : text.IndexOf(':') == colon);
        if (hasPort && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port <= IPEndPoint.MaxPort)
        {
            string host = text[..colon];
            if (host is "*" or "[::]" || host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            {
                // "*" means every address: IPv6Any, which the server opens dual-stack (IPv4 and IPv6).
                return new IPEndPoint(host == "*" || host == "[::]" ? IPAddress.IPv6Any : IPAddress.Loopback, port);
            }

            if (IPEndPoint.TryParse(text, out IPEndPoint? endPoint))
            {
                return endPoint;
            }
        }

        throw new InvalidOperationException(
            $"Configuration key '{key}' has value '{value}', which is not an endpoint: expected an IP address and a port " +
            "such as 127.0.0.1:9000, [::1]:9000, localhost:9000 or *:9000 (every address, IPv4 and IPv6).");
    }

    private static IEnumerable<(string Key, string Value)> EndPointValues(IConfigurationSection endPoints)
    {
        // A single string (an environment variable or a command-line switch) may hold several, separated by ';'.
        if (!string.IsNullOrWhiteSpace(endPoints.Value))
        {
            foreach (string part in endPoints.Value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                yield return (endPoints.Path, part);
            }
        }

        foreach (IConfigurationSection child in endPoints.GetChildren())
        {
            if (child.Value is not null)
            {
                yield return (child.Path, child.Value);
            }
            else
            {
                throw new InvalidOperationException($"Configuration key '{child.Path}' is not a string: each endpoint is written as \"127.0.0.1:9000\".");
            }
        }
    }

    private static bool IsUnder(string key, string prefix) =>
        key.Equals(prefix, StringComparison.OrdinalIgnoreCase) ||
        (key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && key.Length > prefix.Length && key[prefix.Length] == ':');

    private static string PathOf(IConfiguration section) => section is IConfigurationSection s ? s.Path : "(root)";
}
