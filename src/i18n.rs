//! What readers and the newsroom read, in English and Turkish: every text of the public
//! pages and the system mails (here), and of the desk (`desk.*`, in `i18n/desk.rs`), by key.
//! Templates ask for a text with `t("key")`; code with [`text`].
//!
//! Texts with `{name}` placeholders are filled by the caller, which escapes what it puts in.

use crate::domain::Lang;

macro_rules! catalog {
    ($($key:literal => ($en:literal, $tr:literal)),+ $(,)?) => {
        /// Every key, for the test that code and templates ask for no missing text.
        #[cfg(test)]
        pub(super) const KEYS: &[&str] = &[$($key),+];

        /// The text for `key`, or `None` for an unknown key.
        pub(super) fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
            match (key, lang) {
                $(($key, Lang::En) => Some($en), ($key, Lang::Tr) => Some($tr),)+
                _ => None,
            }
        }
    };
}

mod desk;

/// The reader's texts: the public pages and the system mails.
mod reader {
    use crate::domain::Lang;

    catalog! {
        "lang.name" => ("English", "Türkçe"),
        "site.tagline" => (
            "Keep up to date with what's happening in Türkiye, its region and the world.",
            "Türkiye'de, bölgesinde ve dünyada olup bitenlerden haberdar olun."
        ),
        "form.title" => ("Subscribe to our newsletters", "Bültenlerimize abone olun"),
        "form.email" => ("Email address", "E-posta adresi"),
        "form.name" => ("Name (optional)", "Adınız (isteğe bağlı)"),
        "form.topics" => ("Topics", "Konular"),
        "form.topics_hint" => ("Choose at least one.", "En az birini seçin."),
        "form.submit" => ("Subscribe", "Abone ol"),
        "form.honeypot" => ("Leave this field empty", "Bu alanı boş bırakın"),
        "form.errors" => ("Please correct the following:", "Lütfen şunları düzeltin:"),
        "form.pow" => ("Anti-bot check", "Bot denetimi"),
        "form.protected" => (
            "This form is protected by a small calculation your browser makes to show it is not a bot. No third party sees you.",
            "Bu form, tarayıcınızın bot olmadığını göstermek için yaptığı küçük bir hesaplamayla korunur. Hiçbir üçüncü taraf sizi görmez."
        ),
        "form.noscript" => (
            "This form needs JavaScript for one thing only: the small calculation that shows your browser is not a bot, made without any third party. Please turn JavaScript on for this page and reload it. Everything else works without it.",
            "Bu formun JavaScript'e yalnızca tek bir iş için ihtiyacı var: tarayıcınızın bot olmadığını gösteren, hiçbir üçüncü tarafa başvurmadan yapılan küçük hesaplama. Lütfen bu sayfada JavaScript'i açıp sayfayı yenileyin. Geri kalan her şey onsuz da çalışır."
        ),
        "form.unsubscribe_note" => (
            "You can unsubscribe at any time.",
            "Aboneliğinizi istediğiniz zaman iptal edebilirsiniz."
        ),
        "form.manage_link" => ("Already subscribed? Get a link to your preferences.", "Zaten abone misiniz? Tercih bağlantınızı alın."),
        "consent.sentence" => (
            "By signing up you are agreeing to our {terms} and {privacy}.",
            "Abone olarak {terms} ve {privacy} kabul etmiş olursunuz."
        ),
        "consent.terms" => ("Terms of Use", "Kullanım Koşullarımızı"),
        "consent.privacy" => ("Privacy Policy", "Gizlilik Politikamızı"),
        "done.title" => ("Check your inbox", "Gelen kutunuzu kontrol edin"),
        "done.double" => (
            "We have sent a message to the address you gave. Follow its link to confirm your subscription. If it does not arrive within a few minutes, look in your spam folder.",
            "Verdiğiniz adrese bir ileti gönderdik. Aboneliğinizi onaylamak için içindeki bağlantıyı izleyin. Birkaç dakika içinde gelmezse istenmeyen posta klasörünüze bakın."
        ),
        "done.single_title" => ("You are subscribed", "Abone oldunuz"),
        "done.single" => ("Thank you! Our newsletters are on their way to you.", "Teşekkürler! Bültenlerimiz size ulaşacak."),
        "error.email_missing" => ("Please enter your email address.", "Lütfen e-posta adresinizi girin."),
        "error.email_invalid" => ("Please enter a valid email address.", "Lütfen geçerli bir e-posta adresi girin."),
        "error.name_invalid" => (
            "Please enter a name of at most 200 characters, on one line.",
            "Lütfen tek satırda, en fazla 200 karakterlik bir ad girin."
        ),
        "error.no_topic" => ("Please choose at least one topic.", "Lütfen en az bir konu seçin."),
        "error.unknown_topic" => (
            "A chosen topic does not exist or is not open for signup.",
            "Seçilen konulardan biri yok ya da aboneliğe açık değil."
        ),
        "error.pow_missing" => (
            "Please wait until the anti-bot check is complete, then send the form again.",
            "Lütfen bot denetimi tamamlanana kadar bekleyip formu yeniden gönderin."
        ),
        "error.pow_invalid" => (
            "The anti-bot check failed. Please reload the page and try again.",
            "Bot denetimi başarısız oldu. Lütfen sayfayı yenileyip yeniden deneyin."
        ),
        "error.pow_expired" => (
            "The anti-bot check has expired. Please reload the page and try again.",
            "Bot denetiminin süresi doldu. Lütfen sayfayı yenileyip yeniden deneyin."
        ),
        "error.pow_replayed" => (
            "This anti-bot check was already used. Please reload the page and try again.",
            "Bu bot denetimi zaten kullanıldı. Lütfen sayfayı yenileyip yeniden deneyin."
        ),
        "error.captcha" => ("The captcha check failed. Please try again.", "Captcha denetimi başarısız oldu. Lütfen yeniden deneyin."),
        "error.captcha_unavailable" => (
            "We cannot check the captcha just now. Please try again in a moment.",
            "Captcha şu anda denetlenemiyor. Lütfen birazdan yeniden deneyin."
        ),
        "error.honeypot" => ("Your request could not be accepted.", "İsteğiniz kabul edilemedi."),
        "error.too_many_ip" => (
            "Too many requests from your network. Please try again later.",
            "Ağınızdan çok fazla istek geldi. Lütfen daha sonra yeniden deneyin."
        ),
        "error.too_many_overall" => (
            "We are receiving too many requests just now. Please try again in a moment.",
            "Şu anda çok fazla istek alıyoruz. Lütfen birazdan yeniden deneyin."
        ),
        "error.too_many_address" => (
            "Too many attempts for this address. Please try again later.",
            "Bu adres için çok fazla deneme yapıldı. Lütfen daha sonra yeniden deneyin."
        ),
        "error.unavailable" => (
            "Something went wrong on our side. Please try again in a moment.",
            "Bizim tarafımızda bir sorun oluştu. Lütfen birazdan yeniden deneyin."
        ),
        "link.invalid_title" => ("Invalid link", "Geçersiz bağlantı"),
        "link.invalid" => (
            "This link is not valid. Please use the link from the most recent message.",
            "Bu bağlantı geçerli değil. Lütfen en son iletideki bağlantıyı kullanın."
        ),
        "confirm.title" => ("Confirm your subscription", "Aboneliğinizi onaylayın"),
        "confirm.lead" => ("Confirm that {email} should receive:", "{email} adresine şu bültenlerin gönderilmesini onaylayın:"),
        "confirm.button" => ("Confirm subscription", "Aboneliği onayla"),
        "confirm.done_title" => ("Subscription confirmed", "Abonelik onaylandı"),
        "confirm.done" => ("Thank you. You will receive our newsletters from now on.", "Teşekkürler. Bundan sonra bültenlerimizi alacaksınız."),
        "confirm.nothing" => (
            "There is nothing left to confirm: your subscriptions are confirmed already.",
            "Onaylanacak bir şey kalmadı: abonelikleriniz zaten onaylı."
        ),
        "confirm.used" => ("This link was already used.", "Bu bağlantı zaten kullanıldı."),
        "confirm.expired_title" => ("This link has expired", "Bu bağlantının süresi doldu"),
        "confirm.expired" => (
            "Confirmation links are valid for a limited time. Ask for a new one:",
            "Onay bağlantıları sınırlı bir süre geçerlidir. Yenisini isteyin:"
        ),
        "confirm.resend" => ("Send me a new link", "Bana yeni bir bağlantı gönder"),
        "confirm.resent" => (
            "If a subscription is waiting for confirmation, a new link is on its way.",
            "Onay bekleyen bir abonelik varsa yeni bir bağlantı yola çıktı."
        ),
        "manage.title" => ("Your newsletter preferences", "Bülten tercihleriniz"),
        "manage.lead" => ("Preferences for {email}", "{email} için tercihler"),
        "manage.topics" => ("Topics you receive", "Aldığınız konular"),
        "manage.save" => ("Save preferences", "Tercihleri kaydet"),
        "manage.saved" => ("Your preferences are saved.", "Tercihleriniz kaydedildi."),
        "manage.pending" => ("waiting for confirmation", "onay bekliyor"),
        "manage.unsubscribe_all" => ("Unsubscribe from everything", "Tüm aboneliklerimden çık"),
        "manage.unsubscribed_all" => (
            "You are unsubscribed from everything. You will get no more newsletters from us.",
            "Tüm aboneliklerinizden çıktınız. Bizden artık bülten almayacaksınız."
        ),
        "manage.change_title" => ("Change your address", "Adresinizi değiştirin"),
        "manage.new_email" => ("New email address", "Yeni e-posta adresi"),
        "manage.change_button" => ("Send a confirmation to the new address", "Yeni adrese onay gönder"),
        "manage.change_sent" => (
            "We have sent a confirmation link to the new address. The change takes effect when you follow it.",
            "Yeni adrese bir onay bağlantısı gönderdik. Değişiklik, bağlantıyı izlediğinizde geçerli olur."
        ),
        "change.title" => ("Confirm your new address", "Yeni adresinizi onaylayın"),
        "change.lead" => ("Receive our newsletters at {email} from now on?", "Bültenlerimiz bundan sonra {email} adresine mi gönderilsin?"),
        "change.button" => ("Change address", "Adresi değiştir"),
        "change.done" => ("Your address is changed.", "Adresiniz değiştirildi."),
        "change.taken" => (
            "This address is already subscribed, so the change was not made. Manage it from a message sent to it.",
            "Bu adres zaten abone olduğu için değişiklik yapılmadı. Onu, o adrese gelen bir iletiden yönetin."
        ),
        "data.title" => ("Your data", "Verileriniz"),
        "data.export" => ("Download everything stored about me (JSON)", "Hakkımda saklanan her şeyi indir (JSON)"),
        "data.erase" => ("Erase my data", "Verilerimi sil"),
        "data.erase_confirm" => (
            "I understand that this ends my subscriptions and deletes everything stored about me.",
            "Bunun aboneliklerimi sonlandıracağını ve hakkımda saklanan her şeyi sileceğini anlıyorum."
        ),
        "data.erase_needs_confirm" => ("Tick the box to confirm the erasure.", "Silmeyi onaylamak için kutuyu işaretleyin."),
        "data.erased_title" => ("Your data is erased", "Verileriniz silindi"),
        "data.erased" => (
            "Everything stored about you is erased. We keep only a one-way fingerprint of your address, so that we never mail it again unless you sign up anew.",
            "Hakkınızda saklanan her şey silindi. Yalnızca adresinizin tek yönlü bir parmak izini saklıyoruz; böylece yeniden abone olmadıkça size bir daha e-posta göndermeyiz."
        ),
        "sendlink.title" => ("Get a link to your preferences", "Tercih bağlantınızı alın"),
        "sendlink.lead" => (
            "Enter your address and we will email you a link to manage your subscriptions.",
            "Adresinizi girin; aboneliklerinizi yönetmeniz için size bir bağlantı gönderelim."
        ),
        "sendlink.button" => ("Email me my link", "Bağlantımı gönder"),
        "sendlink.sent" => (
            "If this address is on our lists, a link is on its way to it.",
            "Bu adres listelerimizdeyse bağlantı yola çıktı."
        ),
        "unsub.title" => ("Unsubscribe", "Abonelikten çık"),
        "unsub.lead" => ("Unsubscribe {email} from:", "{email} adresinin şu aboneliklerini iptal et:"),
        "unsub.button" => ("Unsubscribe", "Abonelikten çık"),
        "unsub.done_title" => ("Unsubscribed", "Abonelikten çıkıldı"),
        "unsub.done" => (
            "You are unsubscribed. You will get no more of these newsletters.",
            "Abonelikten çıktınız. Bu bültenleri artık almayacaksınız."
        ),
        "unsub.none" => (
            "You are not subscribed to any of these newsletters any more.",
            "Artık bu bültenlerin hiçbirine abone değilsiniz."
        ),
        "unsub.unknown" => ("This address receives nothing from us.", "Bu adrese bizden hiçbir şey gönderilmiyor."),
        "unsub.manage" => ("Manage all your preferences", "Tüm tercihlerinizi yönetin"),
        "unsub.mail_link" => ("Mail me the link to all my preferences", "Tüm tercihlerimin bağlantısını e-postayla gönder"),
        "embed.lead" => ("Paste this into any page of your site. It posts to bulten's hosted form, so the same checks apply; the anti-bot check runs in the reader's browser and is served by bulten itself.", "Bunu sitenizin herhangi bir sayfasına yapıştırın. Form bültenin barındırılan formuna gönderilir, bu yüzden aynı denetimlerden geçer; bot denetimi okurun tarayıcısında çalışır ve bültenin kendisinden sunulur."),
        "embed.live" => ("How it looks", "Nasıl görünür"),
        "retry.title" => ("Please try again", "Lütfen yeniden deneyin"),
        "mail.confirm.subject" => ("Confirm your subscription", "Aboneliğinizi onaylayın"),
        "mail.confirm.body" => (
            "Someone, hopefully you, asked to subscribe {email} to:",
            "Birisi, umarız sizsiniz, {email} adresini şu bültenlere abone etmek istedi:"
        ),
        "mail.confirm.ignore" => (
            "If it was not you, ignore this message: without a confirmation you will get nothing from us.",
            "Bu siz değilseniz bu iletiyi dikkate almayın: onay olmadan size hiçbir şey göndermeyiz."
        ),
        "mail.link.subject" => ("Your newsletter preferences", "Bülten tercihleriniz"),
        "mail.link.body" => (
            "Here is your link to manage your newsletter subscriptions:",
            "Bülten aboneliklerinizi yönetmeniz için bağlantınız:"
        ),
        "mail.link.button" => ("Manage my subscriptions", "Aboneliklerimi yönet"),
        "mail.link.ignore" => (
            "If you did not ask for it, you can ignore this message.",
            "Bunu siz istemediyseniz bu iletiyi dikkate almayabilirsiniz."
        ),
        "mail.change.subject" => ("Confirm your new address", "Yeni adresinizi onaylayın"),
        "mail.change.body" => (
            "Someone, hopefully you, asked to receive our newsletters at this address from now on.",
            "Birisi, umarız sizsiniz, bültenlerimizi bundan sonra bu adrese almak istedi."
        ),
        "mail.change.button" => ("Confirm the new address", "Yeni adresi onayla"),
    }
}

/// The text for `key`, or `None` for an unknown key.
pub(crate) fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    if key.starts_with("desk.") {
        desk::lookup(lang, key)
    } else {
        reader::lookup(lang, key)
    }
}

/// Every key of both catalogs.
#[cfg(test)]
const KEYS: &[&[&str]] = &[reader::KEYS, desk::KEYS];

/// The text for `key` in `lang`; the key itself when it is unknown, so a missing text shows
/// as its key rather than as nothing (a test keeps every key used in a template known).
pub(crate) fn text(lang: Lang, key: &str) -> &str {
    lookup(lang, key).unwrap_or(key)
}

/// The other language, for the switch on every page.
pub(crate) fn other(lang: Lang) -> Lang {
    match lang {
        Lang::En => Lang::Tr,
        Lang::Tr => Lang::En,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_both_languages_and_turkish_letters_survive() {
        for key in KEYS.iter().copied().flatten() {
            assert!(
                lookup(Lang::En, key).is_some_and(|t| !t.is_empty()),
                "{key}"
            );
            assert!(
                lookup(Lang::Tr, key).is_some_and(|t| !t.is_empty()),
                "{key}"
            );
        }
        assert_eq!(text(Lang::Tr, "lang.name"), "Türkçe");
        assert!(text(Lang::Tr, "form.title").contains('ü'));
        assert_eq!(text(Lang::En, "no.such.key"), "no.such.key");
    }

    /// Every string in the code and the templates that looks like a key of the catalog
    /// (a known first part, dots, lowercase words) must be one: a typo would show the
    /// reader a raw key.
    #[test]
    fn every_key_the_code_and_templates_ask_for_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let prefixes: std::collections::HashSet<&str> = KEYS
            .iter()
            .copied()
            .flatten()
            .filter_map(|k| k.split('.').next())
            .collect();
        let mut files = Vec::new();
        let mut dirs = vec![root.join("src"), root.join("templates")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path
                    .extension()
                    .is_some_and(|e| e == "rs" || e == "html" || e == "txt")
                {
                    files.push(path);
                }
            }
        }
        let mut checked = 0;
        let mut missing = Vec::new();
        for path in files
            .iter()
            .filter(|p| !p.ends_with("i18n.rs") && !p.ends_with("i18n/desk.rs"))
        {
            let source = std::fs::read_to_string(path).unwrap();
            for (i, candidate) in source.split('"').enumerate() {
                let looks_like_key = i % 2 == 1
                    && candidate.contains('.')
                    && candidate.split('.').all(|part| {
                        !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    })
                    && candidate
                        .split('.')
                        .next()
                        .is_some_and(|p| prefixes.contains(p))
                    && ![".html", ".txt", ".css", ".js"]
                        .iter()
                        .any(|file| candidate.ends_with(file));
                if looks_like_key {
                    checked += 1;
                    if !KEYS.iter().any(|keys| keys.contains(&candidate)) {
                        missing.push(format!("{}: {candidate}", path.display()));
                    }
                }
            }
        }
        assert!(
            checked > 50,
            "keys were found in the code and templates ({checked})"
        );
        assert!(
            missing.is_empty(),
            "keys missing from the catalog: {missing:#?}"
        );
    }
}
