namespace Tern; internal static class Placeholder { }
