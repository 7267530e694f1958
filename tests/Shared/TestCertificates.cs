using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Tern.TestSupport;

/// <summary>
/// Self-signed certificates made at run time for "localhost", 127.0.0.1 and ::1, and the means to trust exactly
/// them (never "any certificate"): a validation callback, PEM and PFX files in a temporary directory.
/// </summary>
internal static class TestCertificates
{
    private static readonly Lazy<X509Certificate2> s_localhost = new(() => Create());
    private static readonly ConcurrentDictionary<string, bool> s_made = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>One certificate shared by the tests that need any.</summary>
    public static X509Certificate2 Localhost => s_localhost.Value;

    /// <summary>A new self-signed ECDSA P-256 server certificate for localhost, 127.0.0.1 and ::1, valid for a day around now.</summary>
    public static X509Certificate2 Create(string commonName = "localhost")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        // A self-signed certificate is its own CA: marking it so lets clients that are given it as a CA (Node's `ca`) accept it.
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        using X509Certificate2 created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1));
        X509Certificate2 certificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), password: null);
        s_made[certificate.Thumbprint] = true;
        return certificate;
    }

    /// <summary>Server TLS options with <see cref="Localhost"/>.</summary>
    public static WebSocketTlsOptions ServerOptions() => new() { Certificate = Localhost };

    /// <summary>Trusts the certificates made here, and nothing else (a name mismatch still fails).</summary>
    public static bool Trust(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        certificate is not null && s_made.ContainsKey(certificate.GetCertHashString())
        && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None;

    /// <summary>Client TLS options that trust the certificates made here.</summary>
    public static SslClientAuthenticationOptions ClientOptions() => new() { RemoteCertificateValidationCallback = Trust };

    /// <summary>Writes the certificate and its private key as PEM files; returns their paths.</summary>
    public static (string CertificatePath, string KeyPath) WritePem(X509Certificate2 certificate, string directory)
    {
        string certificatePath = Path.Combine(directory, "cert.pem");
        string keyPath = Path.Combine(directory, "key.pem");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        using ECDsa key = certificate.GetECDsaPrivateKey()!;
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }

    /// <summary>Writes the certificate and its private key as a PFX file; returns its path.</summary>
    public static string WritePfx(X509Certificate2 certificate, string directory, string? password)
    {
        string path = Path.Combine(directory, "cert.pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12, password));
        return path;
    }
}

/// <summary>A temporary directory, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("tern-test-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
