"""Media: sniffing, safe processing into phone-sized variants, storage and clean-up."""
