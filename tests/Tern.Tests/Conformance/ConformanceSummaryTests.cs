using System.Reflection;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Tern.Tests.Conformance;

/// <summary>
/// Keeps the suite honest about its coverage: counts the cases per category, from the test names (Case_1_1_1) and the
/// case ids of the theory data ("6.5.1"), and checks them against the Autobahn TestSuite's core categories (301 cases)
/// and its permessage-deflate categories 12 and 13 (216 cases).
/// The table is printed to the test output and mirrored in docs/conformance.md.
/// </summary>
public partial class ConformanceSummaryTests(ITestOutputHelper output)
{
    /// <summary>Autobahn's core and compression categories and how many cases each has.</summary>
    private static readonly (string Category, string Title, int Cases)[] Autobahn =
    [
        ("1", "Framing", 16),
        ("2", "Pings/Pongs", 11),
        ("3", "Reserved bits", 7),
        ("4", "Opcodes", 10),
        ("5", "Fragmentation", 20),
        ("6", "UTF-8 handling", 145),
        ("7", "Close handling", 37),
        ("9", "Limits/Performance", 54),
        ("10", "Miscellaneous", 1),
        ("12", "Compression payloads", 90),
        ("13", "Compression parameters", 126),
    ];

    [Fact]
    public void Every_Autobahn_core_and_compression_case_has_a_test()
    {
        string[] ids = CaseIds().ToArray();
        string[] duplicates = ids.GroupBy(id => id).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        Assert.True(duplicates.Length == 0, "Case ids used twice: " + string.Join(", ", duplicates));

        ILookup<string, string> byCategory = ids.ToLookup(id => id.Split('.')[0]);
        output.WriteLine($"{"Category",-28} {"Cases",6}");
        foreach ((string category, string title, int expected) in Autobahn)
        {
            string[] numbered = byCategory[category].Where(IsAutobahnId).ToArray();
            string[] extra = byCategory[category].Where(id => !IsAutobahnId(id)).ToArray();
            output.WriteLine($"{category + " " + title,-28} {numbered.Length,6}{(extra.Length > 0 ? $"  (+{extra.Length} Tern-only)" : "")}");
            Assert.True(numbered.Length == expected, $"Category {category} ({title}) has {numbered.Length} cases; Autobahn has {expected}.");
        }

        output.WriteLine($"{"H Handshake",-28} {byCategory["H"].Count(),6}");
        output.WriteLine($"{"Total",-28} {ids.Length,6}");
        Assert.Equal(301 + 216, ids.Count(id => IsAutobahnId(id) && Autobahn.Any(a => a.Category == id.Split('.')[0])));
        Assert.NotEmpty(byCategory["H"]);
    }

    /// <summary>The case id of every fact and theory row in the conformance case classes.</summary>
    internal static IEnumerable<string> CaseIds()
    {
        IEnumerable<Type> caseClasses = typeof(ConformanceSummaryTests).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(ConformanceSummaryTests).Namespace && !t.IsAbstract && IsCaseClass(t)
                // The wss classes (WssCases.cs) inherit a ws class's cases to run them again: each case counts once.
                && !IsCaseClass(t.BaseType!));
        foreach (MethodInfo method in caseClasses.SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance)))
        {
            if (method.GetCustomAttribute<TheoryAttribute>() is not null)
            {
                foreach (object?[] row in TheoryRows(method))
                {
                    yield return (string)row[0]!;
                }
            }
            else if (method.GetCustomAttribute<FactAttribute>() is not null)
            {
                Match match = FactName().Match(method.Name);
                Assert.True(match.Success, $"{method.DeclaringType!.Name}.{method.Name} is not named after its case.");
                yield return match.Groups["id"].Value.Replace('_', '.');
            }
        }
    }

    private static bool IsCaseClass(Type type)
    {
        for (Type? t = type.BaseType; t is not null; t = t.BaseType)
        {
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(ConformanceCases<>))
            {
                return true;
            }
        }

        return false;
    }

    private static IEnumerable<object?[]> TheoryRows(MethodInfo method)
    {
        foreach (InlineDataAttribute inline in method.GetCustomAttributes<InlineDataAttribute>())
        {
            yield return inline.GetData(method).Single();
        }

        foreach (MemberDataAttribute member in method.GetCustomAttributes<MemberDataAttribute>())
        {
            MethodInfo source = method.DeclaringType!.GetMethod(member.MemberName, BindingFlags.Public | BindingFlags.Static)!;
            foreach (object?[] row in (IEnumerable<object?[]>)source.Invoke(null, null)!)
            {
                yield return row;
            }
        }
    }

    private static bool IsAutobahnId(string id) => AutobahnId().IsMatch(id);

    [GeneratedRegex(@"^Case_(?<id>(H|\d+)(_\d+)+)(_|$)")]
    private static partial Regex FactName();

    [GeneratedRegex(@"^\d+(\.\d+)+$")]
    private static partial Regex AutobahnId();
}
