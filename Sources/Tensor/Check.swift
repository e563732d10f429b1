/// Stops the program with `message` when `condition` fails. Unlike `precondition`, whose message
/// optimised builds drop, the message is printed in every build: a shape mismatch must say which
/// op and which shapes, in the release binary users run.
@inlinable
@inline(__always)
public func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                  file: StaticString = #fileID, line: UInt = #line) {
  if !condition() { fatalError(message(), file: file, line: line) }
}
