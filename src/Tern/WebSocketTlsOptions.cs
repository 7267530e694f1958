using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Tern;

/// <summary>
/// TLS settings of a <see cref="WebSocketServer"/> (set <see cref="WebSocketServerOptions.Tls"/>): the server then
/// speaks wss (and https to plain HTTP requests) on every endpoint.
/// </summary>
/// <remarks>
/// The TLS handshake counts against <see cref="WebSocketServerOptions.HandshakeTimeout"/> together with the HTTP
/// request that follows it. A client that does not speak TLS (plain HTTP, a port scanner) is dropped without an answer.
/// </remarks>
/// <example>
/// <code>
/// options.Tls = WebSocketTlsOptions.FromPemFiles("/etc/tern/cert.pem", "/etc/tern/key.pem");
/// </code>
/// </example>
public sealed class WebSocketTlsOptions
{
    /// <summary>The server certificate, with its private key. Ignored when <see cref="AuthenticationOptions"/> is set.</summary>
    public X509Certificate2? Certificate { get; set; }

    /// <summary>
    /// Full control over the TLS handshake: SNI (several certificates), client certificates, or a
    /// <see cref="SslServerAuthenticationOptions.ServerCertificateSelectionCallback"/> that hands out the current
    /// certificate, so a renewed one is used for new connections without a restart. When set it wins over
    /// <see cref="Certificate"/> and <see cref="EnabledProtocols"/>, and is used as given for every connection.
    /// </summary>
    public SslServerAuthenticationOptions? AuthenticationOptions { get; set; }

    /// <summary>The TLS versions offered. Default TLS 1.2 and TLS 1.3.</summary>
    public SslProtocols EnabledProtocols { get; set; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>Loads the certificate from PEM files: the certificate (chain) and its private key.</summary>
    /// <param name="certificatePath">The certificate in PEM, optionally followed by its intermediate certificates.</param>
    /// <param name="keyPath">The private key in PEM (PKCS#8, PKCS#1 or SEC1), unencrypted.</param>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="System.Security.Cryptography.CryptographicException">A file holds no usable certificate or key, or the key does not match the certificate.</exception>
    public static WebSocketTlsOptions FromPemFiles(string certificatePath, string keyPath)
    {
        ArgumentNullException.ThrowIfNull(certificatePath);
        ArgumentNullException.ThrowIfNull(keyPath);
        using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        // A key read from PEM is ephemeral; Windows' TLS stack cannot use such a key, so it goes through PKCS#12 once.
        // Elsewhere the round trip is harmless and keeps one code path.
        X509Certificate2 certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPemFile(certificatePath);
        // The first is the server's own; the rest are intermediates the server sends along with it.
        chain.RemoveAt(0);
        return new WebSocketTlsOptions { Certificate = certificate, Intermediates = chain.Count > 0 ? chain : null };
    }

    /// <summary>Loads the certificate and its private key from a PFX (PKCS#12) file.</summary>
    /// <param name="path">The PFX file.</param>
    /// <param name="password">Its password; null for none.</param>
    /// <exception cref="FileNotFoundException">The file is missing.</exception>
    /// <exception cref="System.Security.Cryptography.CryptographicException">The file is not a PFX, or the password is wrong.</exception>
    /// <exception cref="ArgumentException">The file holds no private key for its certificate.</exception>
    public static WebSocketTlsOptions FromPfxFile(string path, string? password = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        X509Certificate2 certificate = X509CertificateLoader.LoadPkcs12FromFile(path, password);
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new ArgumentException($"{path} holds no private key for its certificate.", nameof(path));
        }

        return new WebSocketTlsOptions { Certificate = certificate };
    }

    /// <summary>
    /// Loads whichever certificate files are given, the way a command line or configuration file names them: a PEM
    /// certificate with its key, or a PFX with an optional password. Returns null when none is given (plain ws).
    /// </summary>
    /// <param name="certificatePath">A PEM certificate; needs <paramref name="keyPath"/>.</param>
    /// <param name="keyPath">Its PEM private key.</param>
    /// <param name="pfxPath">A PFX file instead of the PEM pair.</param>
    /// <param name="pfxPassword">The PFX's password.</param>
    /// <exception cref="ArgumentException">An incomplete or contradictory combination: a certificate without its key (or the other way round), PEM files and a PFX together, a password without a PFX; or a PFX without a private key.</exception>
    /// <exception cref="IOException">A file cannot be read.</exception>
    /// <exception cref="System.Security.Cryptography.CryptographicException">A file holds no usable certificate or key, or the PFX password is wrong.</exception>
    public static WebSocketTlsOptions? FromFiles(string? certificatePath, string? keyPath, string? pfxPath, string? pfxPassword)
    {
        if (pfxPath is not null && (certificatePath is not null || keyPath is not null))
        {
            throw new ArgumentException("Give either a PEM certificate and key, or a PFX file, not both.");
        }

        if ((certificatePath is null) != (keyPath is null))
        {
            throw new ArgumentException(certificatePath is null
                ? "A private key file needs its certificate file."
                : "A PEM certificate file needs its private key file.");
        }

        if (pfxPassword is not null && pfxPath is null)
        {
            throw new ArgumentException("A PFX password needs a PFX file.");
        }

        return pfxPath is not null ? FromPfxFile(pfxPath, pfxPassword)
            : certificatePath is not null ? FromPemFiles(certificatePath, keyPath!)
            : null;
    }

    /// <summary>Intermediate certificates read with the certificate by <see cref="FromPemFiles"/>, sent along with it.</summary>
    internal X509Certificate2Collection? Intermediates { get; private init; }

    /// <summary>The options every TLS handshake uses: built once, when the server starts.</summary>
    internal SslServerAuthenticationOptions CreateAuthenticationOptions()
    {
        if (AuthenticationOptions is { } custom)
        {
            return custom;
        }

        X509Certificate2 certificate = Certificate
            ?? throw new InvalidOperationException("WebSocketTlsOptions needs a Certificate or AuthenticationOptions.");
        if (!certificate.HasPrivateKey)
        {
            throw new InvalidOperationException($"The TLS certificate {certificate.Subject} has no private key.");
        }

        return new SslServerAuthenticationOptions
        {
            // Built once, with the chain, rather than on every handshake.
            ServerCertificateContext = SslStreamCertificateContext.Create(certificate, Intermediates),
            EnabledSslProtocols = EnabledProtocols,
            ClientCertificateRequired = false,
            // A client asking for renegotiation again and again costs the server a handshake each time; nothing in a
            // WebSocket needs it.
            AllowRenegotiation = false,
        };
    }
}
