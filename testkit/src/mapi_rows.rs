//! The MAPI row structs that the row-set workload (workload 4 of
//! [`bodies`](crate::workloads::bodies)) and `examples/tour.rs` build: a property value
//! whose string is a linked buffer, and a row of them. Written once here (the
//! `no_std` firmware example has its own, with an integer value as well).

/// A property value, as MAPI's `SPropValue` (a tag and a string here).
///
/// ```
/// use linked_alloc_testkit::mapi_rows::PropValue;
///
/// let text = b"Subject\0";
/// let value = PropValue { tag: 0x0037_001F, len: 7, string: text.as_ptr() };
/// assert_eq!(value.tag & 0xffff, 0x001F); // PT_UNICODE, as MAPI tags its strings
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PropValue {
    /// The property tag: its id in the high 16 bits, its type in the low 16.
    pub tag: u32,
    /// The length of the string, without its terminating zero.
    pub len: u32,
    /// The string: a buffer linked to the row set's root.
    pub string: *const u8,
}

/// A row, as MAPI's `SRow`: its property values.
///
/// ```
/// use linked_alloc_testkit::mapi_rows::{PropValue, Row};
///
/// let values = [PropValue { tag: 0x0037_001F, len: 0, string: b"\0".as_ptr() }];
/// let row = Row { count: 1, props: values.as_ptr() };
/// assert_eq!(row.count as usize, values.len());
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// How many property values `props` points to.
    pub count: u32,
    /// The property values: a buffer linked to the row set's root.
    pub props: *const PropValue,
}
