//! Tar archives as the image layers and `docker load` archives need them:
//! ustar headers with numeric owners and a fixed mtime, and zopfli's gzip.
use crate::Error;

/// One ustar header block for `name`: owner and group 0 with no names, the
/// given mode and mtime, and the size of the data that follows.
fn tar_header(
    name: &str,
    mode: u32,
    size: u64,
    mtime: u64,
    typeflag: u8,
) -> Result<[u8; 512], Error> {
    if name.len() > 100 {
        return Err(Error::fail(format!(
            "tar entry name {name:?} is over 100 bytes; ustar cannot hold it without a prefix"
        )));
    }
    let mut h = [0u8; 512];
    let mut field = |at: usize, len: usize, value: u64, what: &str| {
        // Octal digits, zero-padded, then a NUL: the field's full width.
        let text = format!("{value:0width$o}", width = len - 1);
        if text.len() != len - 1 {
            return Err(Error::fail(format!(
                "tar entry {name}: {what} {value} does not fit the {len}-byte field"
            )));
        }
        h[at..at + len - 1].copy_from_slice(text.as_bytes());
        Ok(())
    };
    field(100, 8, u64::from(mode), "mode")?;
    field(108, 8, 0, "uid")?;
    field(116, 8, 0, "gid")?;
    field(124, 12, size, "size")?;
    field(136, 12, mtime, "mtime (SOURCE_DATE_EPOCH)")?;
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // uname and gname stay empty: the numeric ids alone say who owns the file.
    // devmajor and devminor stay NUL: POSIX leaves them unspecified for
    // anything but device files, and NULs compress better than "0000000".
    // The checksum is the sum of all header bytes with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

/// A tar archive builder: regular files and directories, no trailing records
/// beyond the two zero blocks that end every archive.
pub struct Tar {
    bytes: Vec<u8>,
    mtime: u64,
}

impl Tar {
    pub fn new(mtime: u64) -> Tar {
        Tar {
            bytes: Vec::new(),
            mtime,
        }
    }

    pub fn dir(&mut self, name: &str) -> Result<(), Error> {
        let h = tar_header(name, 0o755, 0, self.mtime, b'5')?;
        self.bytes.extend_from_slice(&h);
        Ok(())
    }

    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> Result<(), Error> {
        let h = tar_header(name, mode, data.len() as u64, self.mtime, b'0')?;
        self.bytes.extend_from_slice(&h);
        self.bytes.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.bytes.resize(self.bytes.len() + pad, 0);
        Ok(())
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.resize(self.bytes.len() + 1024, 0);
        self.bytes
    }
}

/// Gzip with zopfli, which beats zlib's level 9 by a byte on this tar (more than
/// its default 15 iterations gain nothing here). The gzip header zopfli writes
/// has no name and mtime 0, so equal input gives equal output. Inputs over
/// 64 KiB (the report's classic images, or a huge message) get one iteration:
/// 15 would take minutes on a megabyte and change the size by a fraction of a
/// percent.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut options = zopfli::Options::default();
    if data.len() > 64 * 1024 {
        options.iteration_count = std::num::NonZeroU64::MIN;
    }
    let mut out = Vec::new();
    zopfli::compress(options, zopfli::Format::Gzip, data, &mut out)
        .map_err(|e| Error::fail(format!("gzip the layer: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_header_fields_and_checksum() {
        let h = tar_header("hello", 0o555, 120, 0, b'0').unwrap();
        assert_eq!(&h[..6], b"hello\0");
        assert_eq!(&h[100..108], b"0000555\0");
        assert_eq!(&h[124..136], b"00000000170\0");
        assert_eq!(&h[257..265], b"ustar\x0000");
        let mut blanked = h;
        blanked[148..156].copy_from_slice(b"        ");
        let sum: u32 = blanked.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(&h[148..156], format!("{sum:06o}\0 ").as_bytes());
        assert!(tar_header(&"x".repeat(101), 0o644, 0, 0, b'0').is_err());
        assert!(tar_header("hello", 0o555, 0, 1 << 33, b'0').is_err());
    }
}
